using System.Globalization;
using Dapper;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Purchases;

namespace OpsConsole.Core.Metrics;

/// <summary>
/// Reads everything a metrics snapshot shows for one window in one round trip: a multi-statement command is one
/// batch and one implicit transaction, so the <c>statement_timeout</c> set first binds every statement after it.
/// Each statement is an index range scan: purchases on <c>created_at</c>, conflicts on <c>(action, created_at)</c>,
/// webhooks on <c>last_received_at</c>, double sales on the partial <c>sold_count &gt; 1</c> index.
/// </summary>
public sealed class PurchaseMetricsQuery
{
    // The current window is [@To - @Window, @To), the previous one [@To - 2 * @Window, @To - @Window): one range
    // scan counts both, grouped by (window, status, method) into a handful of rows that ReadAsync adds up; a
    // hash aggregate over a few groups costs far less per row than a dozen FILTERed aggregates. "Failed" is every
    // purchase that ended without a sale. The percentiles need the rows themselves: a second scan, of the current
    // window's completed purchases only, with both percentiles of a column from one sort (an array argument).
    // work_mem is raised for this transaction only, so a 24-hour window sorts in memory instead of spilling.
    // The credit purchase time is duration_ms, the service's own measurement: the purchase runs in one
    // transaction, where created_at is now() (its start), so completed_at - created_at would miss retries and the
    // round trip. A Stripe checkout spans two transactions (reservation, then webhook), so its
    // completed_at (clock_timestamp()) - created_at is real, and includes the customer. date_part (float8) rather
    // than extract (numeric since PostgreSQL 14).
    // Series: one point per minute from the window's first minute to its last, empty minutes from
    // generate_series; the edge minutes are partial, so the points add up to the window's totals.
    private const string Sql = """
        SELECT set_config('statement_timeout', @TimeoutMs, true), set_config('work_mem', '64MB', true);

        SELECT created_at >= @To - @Window AS Current, status AS Status, payment_method AS PaymentMethod,
               count(*) AS Purchases, count(duration_ms) AS Timed, coalesce(sum(duration_ms::float8), 0) AS TotalMs
        FROM marketplace_purchases
        WHERE created_at >= @To - 2 * @Window AND created_at < @To
        GROUP BY 1, 2, 3;

        SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY duration_ms::float8)
                   FILTER (WHERE payment_method = 'credits' AND duration_ms IS NOT NULL) AS Times,
               count(*) FILTER (WHERE payment_method = 'stripe' AND completed_at IS NOT NULL) AS Checkouts,
               avg(date_part('epoch', completed_at - created_at) * 1000)
                   FILTER (WHERE payment_method = 'stripe' AND completed_at IS NOT NULL) AS CheckoutAverageMs,
               percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY date_part('epoch', completed_at - created_at) * 1000)
                   FILTER (WHERE payment_method = 'stripe' AND completed_at IS NOT NULL) AS CheckoutTimes
        FROM marketplace_purchases
        WHERE created_at >= @To - @Window AND created_at < @To AND status = 'completed';

        SELECT count(*) FILTER (WHERE created_at >= @To - @Window) AS Conflicts,
               count(*) FILTER (WHERE created_at < @To - @Window)  AS PreviousConflicts
        FROM audit_logs
        WHERE action = 'purchase_conflict' AND created_at >= @To - 2 * @Window AND created_at < @To;

        SELECT count(*) FILTER (WHERE cur)                               AS Events,
               coalesce(sum(deliveries) FILTER (WHERE cur), 0)::int8     AS Deliveries,
               coalesce(sum(deliveries - 1) FILTER (WHERE cur), 0)::int8 AS Repeats,
               count(*) FILTER (WHERE NOT cur)                           AS PreviousEvents,
               coalesce(sum(deliveries) FILTER (WHERE NOT cur), 0)::int8     AS PreviousDeliveries,
               coalesce(sum(deliveries - 1) FILTER (WHERE NOT cur), 0)::int8 AS PreviousRepeats
        FROM (
            SELECT deliveries, last_received_at >= @To - @Window AS cur
            FROM stripe_webhook_events
            WHERE last_received_at >= @To - 2 * @Window AND last_received_at < @To
        ) AS e;

        WITH purchases AS (
            SELECT date_trunc('minute', created_at) AS minute,
                   count(*) AS purchases,
                   count(*) FILTER (WHERE status = 'completed') AS successful,
                   count(*) FILTER (WHERE status IN ('failed', 'expired', 'refund_required')) AS failed,
                   avg(duration_ms::float8) FILTER (WHERE status = 'completed' AND payment_method = 'credits') AS average_ms
            FROM marketplace_purchases
            WHERE created_at >= @To - @Window AND created_at < @To
            GROUP BY 1
        ), conflicts AS (
            SELECT date_trunc('minute', created_at) AS minute, count(*) AS conflicts
            FROM audit_logs
            WHERE action = 'purchase_conflict' AND created_at >= @To - @Window AND created_at < @To
            GROUP BY 1
        )
        SELECT m.minute AS Minute,
               coalesce(p.purchases, 0)  AS Purchases,
               coalesce(p.successful, 0) AS Successful,
               coalesce(p.failed, 0)     AS Failed,
               coalesce(c.conflicts, 0)  AS Conflicts,
               p.average_ms              AS AverageMs
        FROM generate_series(date_trunc('minute', @To - @Window),
                             date_trunc('minute', @To - interval '1 microsecond'),
                             interval '1 minute') AS m (minute)
        LEFT JOIN purchases AS p USING (minute)
        LEFT JOIN conflicts AS c USING (minute)
        ORDER BY m.minute;
        """;

    // Invariants 1 and 2 are the guide's double-sell and credit-balance checks (queries 2 and 3, without the
    // 24-hour limit on double sales: an old one is still a lead sold twice). 3 to 5 read every purchase, too much
    // for every few seconds; they stay with the tests and the reconciliation editor.
    private static readonly string IntegritySql = MarketplaceInvariants.QueryFor([1, 2]);

    private readonly MetricsDataSource _source;
    private readonly IOptions<MetricsOptions> _options;
    private long _executed;

    /// <summary>Creates the query over the metrics data source.</summary>
    public PurchaseMetricsQuery(MetricsDataSource source, IOptions<MetricsOptions> options)
    {
        _source = source;
        _options = options;
    }

    /// <summary>Round trips this instance made to the database (one per <see cref="ReadAsync"/>): what the benchmark counts per interval.</summary>
    public long Executed => Interlocked.Read(ref _executed);

    /// <summary>Reads the window ending at <paramref name="to"/> and the window of the same length before it.</summary>
    public async Task<MetricsReadings> ReadAsync(MetricsWindow window, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var parameters = new
        {
            To = to.ToUniversalTime(),
            Window = window.Length,
            TimeoutMs = ((long)Math.Ceiling(_options.Value.StatementTimeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture),
        };

        await using var connection = await _source.DataSource.OpenConnectionAsync(cancellationToken);
        Interlocked.Increment(ref _executed);
        await using var results = await connection.QueryMultipleAsync(
            new CommandDefinition(Sql + ";\n" + IntegritySql, parameters, cancellationToken: cancellationToken));

        await results.ReadSingleAsync();
        var groups = (await results.ReadAsync<PurchaseGroup>()).ToList();
        var times = await results.ReadSingleAsync<TimesRow>();
        var c = await results.ReadSingleAsync<ConflictRow>();
        var w = await results.ReadSingleAsync<WebhookRow>();
        var series = (await results.ReadAsync<MinuteRow>())
            .Select(m => new MinutePoint(new DateTimeOffset(DateTime.SpecifyKind(m.Minute, DateTimeKind.Utc)), m.Purchases, m.Successful, m.Failed, m.Conflicts, m.AverageMs))
            .ToList();
        var violations = (await results.ReadAsync<InvariantViolation>()).ToList();

        var credit = CreditTime(groups, current: true);
        var previousCredit = CreditTime(groups, current: false);
        return new MetricsReadings(
            window,
            parameters.To,
            Counts(groups, current: true, c.Conflicts),
            Counts(groups, current: false, c.PreviousConflicts),
            new DurationSummary(credit.Count, credit.AverageMs, times.Times?[0], times.Times?[1]),
            new DurationSummary(previousCredit.Count, previousCredit.AverageMs, null, null),
            new DurationSummary(times.Checkouts, times.CheckoutAverageMs, times.CheckoutTimes?[0], times.CheckoutTimes?[1]),
            new WebhookCounts(w.Events, w.Deliveries, w.Repeats),
            new WebhookCounts(w.PreviousEvents, w.PreviousDeliveries, w.PreviousRepeats),
            series,
            new IntegrityReport(
                violations.Where(v => v.Invariant == 1).ToList(),
                violations.Where(v => v.Invariant == 2).ToList()));
    }

    private static PurchaseCounts Counts(List<PurchaseGroup> groups, bool current, long conflicts)
    {
        var window = groups.Where(g => g.Current == current).ToList();
        return new PurchaseCounts(
            window.Sum(g => g.Purchases),
            window.Where(g => g.Status == "completed").Sum(g => g.Purchases),
            window.Where(g => g.Status is "failed" or "expired" or "refund_required").Sum(g => g.Purchases),
            window.Where(g => g.Status == "pending").Sum(g => g.Purchases),
            conflicts);
    }

    // Completed credit purchases with a measured duration: their number and average.
    private static (long Count, double? AverageMs) CreditTime(List<PurchaseGroup> groups, bool current)
    {
        var timed = groups.Where(g => g.Current == current && g.Status == "completed" && g.PaymentMethod == "credits").ToList();
        var count = timed.Sum(g => g.Timed);
        return (count, count == 0 ? null : timed.Sum(g => g.TotalMs) / count);
    }

    private sealed class PurchaseGroup
    {
        public bool Current { get; init; }
        public string Status { get; init; } = "";
        public string PaymentMethod { get; init; } = "";
        public long Purchases { get; init; }
        public long Timed { get; init; }
        public double TotalMs { get; init; }
    }

    private sealed class TimesRow
    {
        public double[]? Times { get; init; }
        public long Checkouts { get; init; }
        public double? CheckoutAverageMs { get; init; }
        public double[]? CheckoutTimes { get; init; }
    }

    private sealed class ConflictRow
    {
        public long Conflicts { get; init; }
        public long PreviousConflicts { get; init; }
    }

    private sealed class WebhookRow
    {
        public long Events { get; init; }
        public long Deliveries { get; init; }
        public long Repeats { get; init; }
        public long PreviousEvents { get; init; }
        public long PreviousDeliveries { get; init; }
        public long PreviousRepeats { get; init; }
    }

    private sealed class MinuteRow
    {
        public DateTime Minute { get; init; }
        public long Purchases { get; init; }
        public long Successful { get; init; }
        public long Failed { get; init; }
        public long Conflicts { get; init; }
        public double? AverageMs { get; init; }
    }
}
