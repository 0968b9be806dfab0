using System.Globalization;
using Dapper;
using Npgsql;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Purchases;

namespace OpsConsole.Core.Metrics;

/// <summary>
/// Reads everything a metrics snapshot shows for one window in two round trips of one read-only, repeatable-read
/// transaction (every statement sees the same rollup): the first sets the transaction's <c>statement_timeout</c> and
/// planner settings and reads the rollup's state, the second (one batch) reads the window. Rolled-up minutes come from
/// <c>ops.purchase_metrics_minutes</c> (kept by <see cref="MetricsRollupService"/>), the rest from index range scans:
/// purchases on <c>created_at</c>, conflicts on <c>(action, created_at)</c>, webhooks on <c>last_received_at</c>,
/// double sales on the partial <c>sold_count &gt; 1</c> index.
/// </summary>
public sealed partial class PurchaseMetricsQuery
{
    // Every statement reads the rolled-up minutes of ops.purchase_metrics_minutes (migration 0026) where it can and
    // the tables themselves where it must: the window's partial first minute, the minute the previous window ends
    // in, the minutes a late change made dirty, and everything from ops.purchase_metrics_state.rolled_until on (the
    // last half hour and more; the whole window before the first refresh). The rolled minutes are one primary-key
    // range of narrow rows (20,160 at most, for 7 days and the 7 before).
    // The raw spans are computed here, from the rollup's state read first in the same transaction (StateSql), and
    // each becomes a range of its own in the statement (@S0Lo..@S0Hi OR ...), planned with its values
    // (plan_cache_mode = force_custom_plan for this transaction): computed inside the statement, as they were
    // first, the planner could not see how narrow they are, assumed a ninth of the table per span and read all of
    // it at 10M purchases (7-10 s a window). So a window costs the same at 10M purchases as at 10K, and counts
    // exactly what the tables hold. JIT is off for this transaction: with those estimates each statement's cost
    // passed jit_optimize_above_cost and PostgreSQL spent 2.0-2.7 s compiling each of them (EXPLAIN ANALYZE at 10M,
    // issue 15), for reads of a few thousand rows that run in milliseconds.
    private const string StateSql = """
        BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
        SELECT set_config('statement_timeout', @TimeoutMs, true), set_config('work_mem', '64MB', true),
               set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true);
        SELECT (SELECT s.rolled_until FROM ops.purchase_metrics_state AS s) AS Rolled,
               ARRAY(SELECT d.minute FROM ops.purchase_metrics_dirty AS d WHERE d.minute >= @LoMinute ORDER BY d.minute) AS Dirty
        """;

    private const string Rolled = """
        rolled AS (
            SELECT m.*, m.minute >= @Mid AS current
            FROM ops.purchase_metrics_minutes AS m
            WHERE m.minute >= @Lo AND m.minute < @RolledBefore AND m.minute + interval '1 minute' <= @Hi
              AND m.minute <> ALL (@RawMinutes)
        )
        """;

    // Counts of both windows: purchases by outcome (created_at), credit purchase times (duration_ms, the service's
    // own measurement: the purchase runs in one transaction, where created_at is now(), so completed_at -
    // created_at would miss retries and the round trip), card checkouts (completed_at, clock_timestamp(), -
    // created_at: two transactions, the customer's time included; date_part, float8, not extract, numeric),
    // conflicts (audit rows) and webhook deliveries (by last_received_at).
    private const string CountsSql = $"""
        WITH {Rolled}, counted AS (
            SELECT current, purchases, completed, failed, pending, credit_timed, credit_ms, checkouts, checkout_ms,
                   conflicts, events, deliveries, repeats
            FROM rolled
            UNION ALL
            SELECT p.created_at >= @Mid, 1::int8, (p.status = 'completed')::int::int8,
                   (p.status IN ('failed', 'expired', 'refund_required'))::int::int8, (p.status = 'pending')::int::int8,
                   (p.status = 'completed' AND p.payment_method = 'credits' AND p.duration_ms IS NOT NULL)::int::int8,
                   CASE WHEN p.status = 'completed' AND p.payment_method = 'credits' THEN coalesce(p.duration_ms::float8, 0) ELSE 0 END,
                   (p.status = 'completed' AND p.payment_method = 'stripe' AND p.completed_at IS NOT NULL)::int::int8,
                   CASE WHEN p.status = 'completed' AND p.payment_method = 'stripe' AND p.completed_at IS NOT NULL
                        THEN date_part('epoch', p.completed_at - p.created_at) * 1000 ELSE 0 END,
                   0::int8, 0::int8, 0::int8, 0::int8
            FROM marketplace_purchases AS p WHERE RAW_SPANS(p.created_at)
            UNION ALL
            SELECT a.created_at >= @Mid, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
            FROM audit_logs AS a WHERE a.action = 'purchase_conflict' AND RAW_SPANS(a.created_at)
            UNION ALL
            SELECT e.last_received_at >= @Mid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, e.deliveries, e.deliveries - 1
            FROM stripe_webhook_events AS e WHERE RAW_SPANS(e.last_received_at)
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
        WHERE @Exact AND created_at >= @Mid AND created_at < @Hi AND status = 'completed'
        """;

    // Series: one point per step (a minute; an hour for 7 days) from the window's first to its last, empty ones
    // from generate_series; the edge points are partial, so the points add up to the window's totals.
    private const string SeriesSql = $"""
        WITH {Rolled}, minutes AS (
            SELECT minute, purchases, completed, failed, conflicts, credit_timed, credit_ms
            FROM rolled WHERE current
            UNION ALL
            SELECT date_trunc('minute', p.created_at), 1::int8, (p.status = 'completed')::int::int8,
                   (p.status IN ('failed', 'expired', 'refund_required'))::int::int8, 0::int8,
                   (p.status = 'completed' AND p.payment_method = 'credits' AND p.duration_ms IS NOT NULL)::int::int8,
                   CASE WHEN p.status = 'completed' AND p.payment_method = 'credits' THEN coalesce(p.duration_ms::float8, 0) ELSE 0 END
            FROM marketplace_purchases AS p WHERE CURRENT_SPANS(p.created_at)
            UNION ALL
            SELECT date_trunc('minute', a.created_at), 0, 0, 0, 1, 0, 0
            FROM audit_logs AS a WHERE a.action = 'purchase_conflict' AND CURRENT_SPANS(a.created_at)
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
        FROM generate_series(date_bin(@Step, @Mid, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                             date_bin(@Step, @Hi - interval '1 microsecond', TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                             @Step) AS g (bucket)
        LEFT JOIN buckets AS b USING (bucket)
        ORDER BY g.bucket
        """;

    // Invariants 1 and 2 are the guide's double-sell and credit-balance checks (queries 2 and 3, without the
    // 24-hour limit on double sales: an old one is still a lead sold twice). 3 to 5 read every purchase, too much
    // for every few seconds; they stay with the tests and the reconciliation editor.
    private static readonly string IntegritySql = MarketplaceInvariants.QueryFor([1, 2]);

    // The second round trip's statements, in the order ReadAsync reads their results.
    private static readonly string[] ReadStatements = [CountsSql, PercentilesSql, SeriesSql, IntegritySql];

    private readonly MetricsDataSource _source;
    private readonly IOptions<MetricsOptions> _options;
    private long _executed;

    /// <summary>Creates the query over the metrics data source.</summary>
    public PurchaseMetricsQuery(MetricsDataSource source, IOptions<MetricsOptions> options)
    {
        _source = source;
        _options = options;
    }

    /// <summary>Reads this instance made (one per <see cref="ReadAsync"/>, two round trips each): what the benchmark counts per interval.</summary>
    public long Executed => Interlocked.Read(ref _executed);

    /// <summary>Reads the window ending at <paramref name="to"/> and the window of the same length before it.</summary>
    public async Task<MetricsReadings> ReadAsync(MetricsWindow window, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var connection = await _source.DataSource.OpenConnectionAsync(cancellationToken);
        Interlocked.Increment(ref _executed);
        var (hi, spans, parameters) = await BeginAsync(connection, window, to, cancellationToken);
        await using var results = await connection.QueryMultipleAsync(
            new CommandDefinition(ReadSqlFor(spans), parameters, cancellationToken: cancellationToken));

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
            hi,
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

    /// <summary>
    /// The plans PostgreSQL chooses for the read of <paramref name="window"/> ending at <paramref name="to"/> (JSON,
    /// one per statement, in a transaction like <see cref="ReadAsync"/>'s): what the plan tests and the benchmark show.
    /// </summary>
    internal async Task<IReadOnlyList<string>> ExplainAsync(MetricsWindow window, DateTimeOffset to, bool analyze, CancellationToken cancellationToken)
    {
        await using var connection = await _source.DataSource.OpenConnectionAsync(cancellationToken);
        var (_, spans, parameters) = await BeginAsync(connection, window, to, cancellationToken);
        var plans = new List<string>();
        foreach (var statement in ReadStatements)
        {
            plans.Add(await connection.ExecuteScalarAsync<string>(new CommandDefinition(
                $"EXPLAIN ({(analyze ? "ANALYZE, BUFFERS, " : "")}FORMAT JSON) {WithSpans(statement, spans)}", parameters, cancellationToken: cancellationToken)) ?? "");
        }

        await connection.ExecuteAsync(new CommandDefinition("COMMIT", cancellationToken: cancellationToken));
        return plans;
    }

    // The first round trip: opens the transaction and reads the rollup's state, from which the raw spans follow.
    private async Task<(DateTimeOffset Hi, int Spans, DynamicParameters Parameters)> BeginAsync(
        NpgsqlConnection connection, MetricsWindow window, DateTimeOffset to, CancellationToken cancellationToken)
    {
        // PostgreSQL keeps microseconds: every bound is computed from the instant it will store.
        var hi = to.ToUniversalTime();
        hi = hi.AddTicks(-(hi.Ticks % 10));
        var mid = hi - window.Length;
        var lo = mid - window.Length;

        RollupState state;
        await using (var first = await connection.QueryMultipleAsync(new CommandDefinition(StateSql, new
        {
            TimeoutMs = ((long)Math.Ceiling(_options.Value.StatementTimeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture),
            LoMinute = MinuteOf(lo),
        }, cancellationToken: cancellationToken)))
        {
            await first.ReadSingleAsync();
            state = await first.ReadSingleAsync<RollupState>();
        }

        var plan = RawPlan.For(lo, mid, hi, AsUtc(state.Rolled), state.Dirty?.Select(d => AsUtc(d)!.Value).ToList() ?? []);
        var parameters = new DynamicParameters(new
        {
            Lo = lo,
            Mid = mid,
            Hi = hi,
            plan.RolledBefore,
            RawMinutes = plan.RawMinutes.ToArray(),
            window.Step,
            Exact = window.HasPercentiles,
        });
        for (var i = 0; i < plan.Spans.Count; i++)
        {
            parameters.Add($"S{i}Lo", plan.Spans[i].Lo);
            parameters.Add($"S{i}Hi", plan.Spans[i].Hi);
            parameters.Add($"S{i}Cur", plan.Spans[i].Lo > mid ? plan.Spans[i].Lo : mid);
        }

        return (hi, plan.Spans.Count, parameters);
    }

    // The read for a number of raw spans (a handful: usually the first minute, the middle minute and the tail),
    // each span its own range of the column: RAW_SPANS(col) becomes (col >= @S0Lo AND col < @S0Hi OR ...), and
    // CURRENT_SPANS(col), the spans' parts in the current window, (col >= @S0Cur AND col < @S0Hi OR ...): each span
    // clipped at @Mid, not the spans AND col >= @Mid, since that range is one a plain index scan can use alone, and
    // where the rows lie in time order (as live traffic writes them) the planner chose it and read the whole window
    // (the 7-day series: 44,556 buffers and 0.9 s at 10M).
    private static string ReadSqlFor(int spans) => ReadSqls.GetOrAdd(spans, n =>
        string.Join(";\n", ReadStatements.Select(statement => WithSpans(statement, n))) + ";\nCOMMIT");

    private static string WithSpans(string statement, int spans) =>
        RawSpansPattern().Replace(statement, m =>
        {
            var (from, column) = (m.Groups[1].Value == "RAW" ? "Lo" : "Cur", m.Groups[2].Value);
            return spans == 0
                ? "false"
                : "(" + string.Join(" OR ", Enumerable.Range(0, spans).Select(i => $"{column} >= @S{i}{from} AND {column} < @S{i}Hi")) + ")";
        });

    [System.Text.RegularExpressions.GeneratedRegex(@"(RAW|CURRENT)_SPANS\(([a-z._]+)\)")]
    private static partial System.Text.RegularExpressions.Regex RawSpansPattern();

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, string> ReadSqls = new();

    private static DateTimeOffset MinuteOf(DateTimeOffset instant) => instant.AddTicks(-(instant.Ticks % TimeSpan.TicksPerMinute));

    private static DateTimeOffset? AsUtc(DateTime? value) => value is { } v ? new DateTimeOffset(DateTime.SpecifyKind(v, DateTimeKind.Utc)) : null;

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

    private sealed class RollupState
    {
        public DateTime? Rolled { get; init; }
        public DateTime[]? Dirty { get; init; }
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

/// <summary>
/// What a window reads from the tables rather than from the rollup, computed before the read so that each range is
/// planned with its own bounds: the minutes read raw (the window's partial first minute, the minute the previous
/// window ends in, the partial last minute and dirty minutes, all before the tail), the spans of the tables they
/// cover with the tail (everything from the rollup's end, or from the first minute when nothing is rolled up),
/// adjacent spans merged; and the end of the rolled minutes read (exclusive).
/// </summary>
internal sealed record RawPlan(IReadOnlyList<RawSpan> Spans, IReadOnlyList<DateTimeOffset> RawMinutes, DateTimeOffset RolledBefore)
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    /// <summary>The plan of the window pair [<paramref name="lo"/>, <paramref name="hi"/>) split at <paramref name="mid"/>.</summary>
    public static RawPlan For(DateTimeOffset lo, DateTimeOffset mid, DateTimeOffset hi, DateTimeOffset? rolledUntil, IEnumerable<DateTimeOffset> dirty)
    {
        var firstMinute = MinuteOf(lo);
        var start = rolledUntil is { } rolled && rolled > firstMinute ? rolled : firstMinute;
        if (start > hi)
        {
            start = hi;
        }

        var minutes = new SortedSet<DateTimeOffset>(
            new[] { firstMinute, MinuteOf(mid), MinuteOf(hi.AddTicks(-10)) }.Concat(dirty.Where(d => d >= firstMinute)).Where(m => m < start));
        var spans = new List<RawSpan>();
        foreach (var minute in minutes)
        {
            Add(Max(minute, lo), Min(Min(minute + Minute, start), hi));
        }

        if (start < hi)
        {
            Add(Max(start, lo), hi);
        }

        return new RawPlan(spans, [.. minutes], rolledUntil is { } until ? Min(until, start) : lo);

        void Add(DateTimeOffset from, DateTimeOffset to)
        {
            if (from >= to)
            {
                return;
            }

            if (spans.Count > 0 && spans[^1].Hi == from)
            {
                spans[^1] = spans[^1] with { Hi = to };
            }
            else
            {
                spans.Add(new RawSpan(from, to));
            }
        }
    }

    private static DateTimeOffset MinuteOf(DateTimeOffset instant) => instant.AddTicks(-(instant.Ticks % TimeSpan.TicksPerMinute));

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}

/// <summary>A range [<see cref="Lo"/>, <see cref="Hi"/>) of a table's time column read raw.</summary>
internal readonly record struct RawSpan(DateTimeOffset Lo, DateTimeOffset Hi);
