using System.Globalization;
using Dapper;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Purchases;

namespace OpsConsole.Core.Metrics;

/// <summary>
/// Reads everything a metrics snapshot shows for one window in one round trip: a multi-statement command is one
/// batch and one implicit transaction (repeatable read: every statement sees the same rollup), so the
/// <c>statement_timeout</c> set first binds every statement after it. Rolled-up minutes come from
/// <c>ops.purchase_metrics_minutes</c> (kept by <see cref="MetricsRollupService"/>), the rest from index range scans:
/// purchases on <c>created_at</c>, conflicts on <c>(action, created_at)</c>, webhooks on <c>last_received_at</c>,
/// double sales on the partial <c>sold_count &gt; 1</c> index.
/// </summary>
public sealed class PurchaseMetricsQuery
{
    // Every statement reads the rolled-up minutes of ops.purchase_metrics_minutes (migration 0026) where it can and
    // the tables themselves where it must: the window's partial first and last minutes, the minute the previous
    // window ends in, the minutes a late change made dirty (one index range scan each), and, as one range scan,
    // everything from ops.purchase_metrics_state.rolled_until on (the last half hour and more; the whole window
    // before the first refresh). The rolled minutes are one primary-key range of narrow rows (20,160 at most,
    // for 7 days and the 7 before).
    // So a window costs the same at 10M purchases as at 10K, and counts exactly what the tables hold.
    private const string Spans = """
        bounds AS (
            SELECT CAST(@To AS timestamptz) AS hi, @To - @Window AS mid, @To - 2 * @Window AS lo,
                   coalesce((SELECT s.rolled_until FROM ops.purchase_metrics_state AS s), '-infinity'::timestamptz) AS rolled
        ), tail AS (
            SELECT least(greatest(date_trunc('minute', b.lo), b.rolled), b.hi) AS start FROM bounds AS b
        ), raw_minutes AS (
            SELECT DISTINCT x.minute
            FROM bounds AS b
            CROSS JOIN tail AS t
            CROSS JOIN LATERAL (
                SELECT date_trunc('minute', b.lo)
                UNION ALL SELECT date_trunc('minute', b.mid)
                UNION ALL SELECT date_trunc('minute', b.hi - interval '1 microsecond')
                UNION ALL SELECT d.minute FROM ops.purchase_metrics_dirty AS d WHERE d.minute >= date_trunc('minute', b.lo) AND d.minute < t.start
            ) AS x (minute)
            WHERE x.minute < t.start
        ), raw_spans AS (
            SELECT greatest(r.minute, b.lo) AS lo, least(r.minute + interval '1 minute', t.start, b.hi) AS hi, b.mid
            FROM raw_minutes AS r CROSS JOIN bounds AS b CROSS JOIN tail AS t
            UNION ALL
            SELECT greatest(t.start, b.lo), b.hi, b.mid FROM bounds AS b CROSS JOIN tail AS t WHERE t.start < b.hi
        ), rolled AS (
            SELECT m.*, m.minute >= b.mid AS current
            FROM bounds AS b
            CROSS JOIN tail AS t
            JOIN ops.purchase_metrics_minutes AS m
              ON m.minute >= b.lo AND m.minute + interval '1 minute' <= b.hi AND m.minute < b.rolled AND m.minute < t.start
            WHERE NOT EXISTS (SELECT 1 FROM raw_minutes AS r WHERE r.minute = m.minute)
        )
        """;

    // Counts of both windows: purchases by outcome (created_at), credit purchase times (duration_ms, the service's
    // own measurement: the purchase runs in one transaction, where created_at is now(), so completed_at -
    // created_at would miss retries and the round trip), card checkouts (completed_at, clock_timestamp(), -
    // created_at: two transactions, the customer's time included; date_part, float8, not extract, numeric),
    // conflicts (audit rows) and webhook deliveries (by last_received_at).
    private const string CountsSql = $"""
        WITH {Spans}, counted AS (
            SELECT current, purchases, completed, failed, pending, credit_timed, credit_ms, checkouts, checkout_ms,
                   conflicts, events, deliveries, repeats
            FROM rolled
            UNION ALL
            SELECT p.created_at >= s.mid, 1::int8, (p.status = 'completed')::int::int8,
                   (p.status IN ('failed', 'expired', 'refund_required'))::int::int8, (p.status = 'pending')::int::int8,
                   (p.status = 'completed' AND p.payment_method = 'credits' AND p.duration_ms IS NOT NULL)::int::int8,
                   CASE WHEN p.status = 'completed' AND p.payment_method = 'credits' THEN coalesce(p.duration_ms::float8, 0) ELSE 0 END,
                   (p.status = 'completed' AND p.payment_method = 'stripe' AND p.completed_at IS NOT NULL)::int::int8,
                   CASE WHEN p.status = 'completed' AND p.payment_method = 'stripe' AND p.completed_at IS NOT NULL
                        THEN date_part('epoch', p.completed_at - p.created_at) * 1000 ELSE 0 END,
                   0::int8, 0::int8, 0::int8, 0::int8
            FROM raw_spans AS s JOIN marketplace_purchases AS p ON p.created_at >= s.lo AND p.created_at < s.hi
            UNION ALL
            SELECT a.created_at >= s.mid, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
            FROM raw_spans AS s JOIN audit_logs AS a ON a.action = 'purchase_conflict' AND a.created_at >= s.lo AND a.created_at < s.hi
            UNION ALL
            SELECT e.last_received_at >= s.mid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, e.deliveries, e.deliveries - 1
            FROM raw_spans AS s JOIN stripe_webhook_events AS e ON e.last_received_at >= s.lo AND e.last_received_at < s.hi
        )
        SELECT current AS Current, sum(purchases)::int8 AS Purchases, sum(completed)::int8 AS Completed,
               sum(failed)::int8 AS Failed, sum(pending)::int8 AS Pending,
               sum(credit_timed)::int8 AS CreditTimed, sum(credit_ms) AS CreditMs,
               sum(checkouts)::int8 AS Checkouts, sum(checkout_ms) AS CheckoutMs,
               sum(conflicts)::int8 AS Conflicts, sum(events)::int8 AS Events,
               sum(deliveries)::int8 AS Deliveries, sum(repeats)::int8 AS Repeats
        FROM counted
        GROUP BY current
        """;

    // Percentiles need the rows themselves: the current window's completed purchases, read only for windows up to
    // an hour (@Exact), both percentiles of a column from one sort. work_mem is raised for this transaction only.
    private const string PercentilesSql = """
        SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY duration_ms::float8)
                   FILTER (WHERE payment_method = 'credits' AND duration_ms IS NOT NULL) AS Times,
               percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY date_part('epoch', completed_at - created_at) * 1000)
                   FILTER (WHERE payment_method = 'stripe' AND completed_at IS NOT NULL) AS CheckoutTimes
        FROM marketplace_purchases
        WHERE @Exact AND created_at >= @To - @Window AND created_at < @To AND status = 'completed'
        """;

    // Series: one point per step (a minute; an hour for 7 days) from the window's first to its last, empty ones
    // from generate_series; the edge points are partial, so the points add up to the window's totals.
    private const string SeriesSql = $"""
        WITH {Spans}, minutes AS (
            SELECT minute, purchases, completed, failed, conflicts, credit_timed, credit_ms
            FROM rolled WHERE current
            UNION ALL
            SELECT date_trunc('minute', p.created_at), 1::int8, (p.status = 'completed')::int::int8,
                   (p.status IN ('failed', 'expired', 'refund_required'))::int::int8, 0::int8,
                   (p.status = 'completed' AND p.payment_method = 'credits' AND p.duration_ms IS NOT NULL)::int::int8,
                   CASE WHEN p.status = 'completed' AND p.payment_method = 'credits' THEN coalesce(p.duration_ms::float8, 0) ELSE 0 END
            FROM raw_spans AS s JOIN marketplace_purchases AS p ON p.created_at >= greatest(s.lo, s.mid) AND p.created_at < s.hi
            UNION ALL
            SELECT date_trunc('minute', a.created_at), 0, 0, 0, 1, 0, 0
            FROM raw_spans AS s JOIN audit_logs AS a
              ON a.action = 'purchase_conflict' AND a.created_at >= greatest(s.lo, s.mid) AND a.created_at < s.hi
        ), buckets AS (
            SELECT date_bin(@Step, m.minute, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
                   sum(purchases) AS purchases, sum(completed) AS completed, sum(failed) AS failed,
                   sum(conflicts) AS conflicts, sum(credit_timed) AS credit_timed, sum(credit_ms) AS credit_ms
            FROM minutes AS m
            GROUP BY 1
        )
        SELECT g.bucket AS Minute,
               coalesce(b.purchases, 0)::int8 AS Purchases,
               coalesce(b.completed, 0)::int8 AS Successful,
               coalesce(b.failed, 0)::int8 AS Failed,
               coalesce(b.conflicts, 0)::int8 AS Conflicts,
               b.credit_ms / nullif(b.credit_timed, 0) AS AverageMs
        FROM generate_series(date_bin(@Step, @To - @Window, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                             date_bin(@Step, @To - interval '1 microsecond', TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                             @Step) AS g (bucket)
        LEFT JOIN buckets AS b USING (bucket)
        ORDER BY g.bucket
        """;

    private const string Sql = $"""
        SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
        SELECT set_config('statement_timeout', @TimeoutMs, true), set_config('work_mem', '64MB', true);
        {CountsSql};
        {PercentilesSql};
        {SeriesSql}
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
            Step = window.Step,
            Exact = window.HasPercentiles,
            TimeoutMs = ((long)Math.Ceiling(_options.Value.StatementTimeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture),
        };

        await using var connection = await _source.DataSource.OpenConnectionAsync(cancellationToken);
        Interlocked.Increment(ref _executed);
        await using var results = await connection.QueryMultipleAsync(
            new CommandDefinition(Sql + ";\n" + IntegritySql, parameters, cancellationToken: cancellationToken));

        await results.ReadSingleAsync();
        var halves = (await results.ReadAsync<WindowRow>()).ToList();
        var times = await results.ReadSingleAsync<TimesRow>();
        var series = (await results.ReadAsync<MinuteRow>())
            .Select(m => new MinutePoint(new DateTimeOffset(DateTime.SpecifyKind(m.Minute, DateTimeKind.Utc)), m.Purchases, m.Successful, m.Failed, m.Conflicts, m.AverageMs))
            .ToList();
        var violations = (await results.ReadAsync<InvariantViolation>()).ToList();

        var current = halves.SingleOrDefault(h => h.Current) ?? new WindowRow();
        var previous = halves.SingleOrDefault(h => !h.Current) ?? new WindowRow();
        return new MetricsReadings(
            window,
            parameters.To,
            current.Counts,
            previous.Counts,
            new DurationSummary(current.CreditTimed, Average(current.CreditMs, current.CreditTimed), times.Times?[0], times.Times?[1]),
            new DurationSummary(previous.CreditTimed, Average(previous.CreditMs, previous.CreditTimed), null, null),
            new DurationSummary(current.Checkouts, Average(current.CheckoutMs, current.Checkouts), times.CheckoutTimes?[0], times.CheckoutTimes?[1]),
            new WebhookCounts(current.Events, current.Deliveries, current.Repeats),
            new WebhookCounts(previous.Events, previous.Deliveries, previous.Repeats),
            series,
            new IntegrityReport(
                violations.Where(v => v.Invariant == 1).ToList(),
                violations.Where(v => v.Invariant == 2).ToList()));
    }

    private static double? Average(double total, long count) => count == 0 ? null : total / count;

    private sealed class WindowRow
    {
        public bool Current { get; init; }
        public long Purchases { get; init; }
        public long Completed { get; init; }
        public long Failed { get; init; }
        public long Pending { get; init; }
        public long CreditTimed { get; init; }
        public double CreditMs { get; init; }
        public long Checkouts { get; init; }
        public double CheckoutMs { get; init; }
        public long Conflicts { get; init; }
        public long Events { get; init; }
        public long Deliveries { get; init; }
        public long Repeats { get; init; }

        public PurchaseCounts Counts => new(Purchases, Completed, Failed, Pending, Conflicts);
    }

    private sealed class TimesRow
    {
        public double[]? Times { get; init; }
        public double[]? CheckoutTimes { get; init; }
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
