using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Metrics;

namespace OpsConsole.Core.Locks;

/// <summary>One point of the contention chart: the worst of its samples, and the deadlocks and conflicts in it.</summary>
/// <param name="At">Start of the point's bucket.</param>
/// <param name="WaitingSessions">Most sessions waiting at once.</param>
/// <param name="LongestWaitSeconds">Longest wait seen.</param>
/// <param name="BlockedPurchases">Most purchases blocked at once.</param>
/// <param name="Deadlocks">Deadlocks PostgreSQL broke (pg_stat_database deltas).</param>
/// <param name="Conflicts">Purchase conflicts reported (purchase_conflict audit rows).</param>
public sealed record LockHistoryPoint(DateTimeOffset At, int WaitingSessions, double LongestWaitSeconds, int BlockedPurchases, long Deadlocks, long Conflicts);

/// <summary>
/// The contention history in <c>ops.lock_samples</c>: one row per sample slot whichever instance sampled first
/// (the slot is the primary key, so a second writer's insert does nothing), old slots removed after
/// <see cref="LockOptions.HistoryRetention"/>. Read back in about 180 buckets per window.
/// </summary>
public sealed class LockHistory(NpgsqlDataSource dataSource, IOptions<LockOptions> options)
{
    private const int Buckets = 180;

    private const string WriteSql = """
        SELECT set_config('lock_timeout', @LockTimeoutMs, true), set_config('statement_timeout', @StatementTimeoutMs, true);

        INSERT INTO ops.lock_samples
            (sampled_at, waiting_sessions, blocking_sessions, longest_wait_ms, blocked_purchases, deadlocks_total, conflicts)
        SELECT @At, @Waiting, @Blocking, @LongestMs, @Purchases, @Deadlocks,
               (SELECT count(*) FROM audit_logs
                WHERE action = 'purchase_conflict' AND created_at >= @At - @Interval AND created_at < @At)
        ON CONFLICT (sampled_at) DO NOTHING;

        DELETE FROM ops.lock_samples WHERE sampled_at < @At - @Retention;
        """;

    // Deadlocks: the counter's rise since the sample before (a reset of the statistics counts as 0).
    private const string ReadSql = """
        SELECT set_config('statement_timeout', @StatementTimeoutMs, true);

        WITH s AS (
            SELECT sampled_at, waiting_sessions, longest_wait_ms, blocked_purchases, conflicts,
                   greatest(deadlocks_total - lag(deadlocks_total) OVER (ORDER BY sampled_at), 0) AS deadlocks
            FROM ops.lock_samples
            WHERE sampled_at >= @From - @Bucket AND sampled_at < @To
        )
        SELECT to_timestamp(floor(date_part('epoch', sampled_at) / @BucketSeconds) * @BucketSeconds) AS At,
               max(waiting_sessions) AS WaitingSessions, max(longest_wait_ms) / 1000.0 AS LongestWaitSeconds,
               max(blocked_purchases) AS BlockedPurchases, coalesce(sum(deadlocks), 0)::int8 AS Deadlocks,
               sum(conflicts)::int8 AS Conflicts
        FROM s
        WHERE sampled_at >= @From
        GROUP BY 1
        ORDER BY 1;
        """;

    /// <summary>The width of one chart point of <paramref name="window"/>.</summary>
    public static TimeSpan BucketOf(MetricsWindow window) => window.Length / Buckets;

    /// <summary>Keeps the summary of <paramref name="snapshot"/> as the sample of slot <paramref name="slot"/>, unless another instance did.</summary>
    public async Task WriteAsync(LockSnapshot snapshot, DateTimeOffset slot, TimeSpan interval, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(WriteSql, new
        {
            LockTimeoutMs = LockSnapshotQuery.Milliseconds(settings.LockTimeout),
            StatementTimeoutMs = LockSnapshotQuery.Milliseconds(settings.StatementTimeout),
            At = slot.UtcDateTime,
            Waiting = snapshot.Summary.WaitingSessions,
            Blocking = snapshot.Summary.BlockingSessions,
            LongestMs = (long)snapshot.Summary.LongestWait.TotalMilliseconds,
            Purchases = snapshot.Summary.BlockedPurchases,
            Deadlocks = snapshot.DeadlocksTotal,
            Interval = interval,
            Retention = settings.HistoryRetention,
        }, cancellationToken: cancellationToken));
    }

    /// <summary>The chart points of <paramref name="window"/> ending at <paramref name="to"/>, oldest first; slots nobody sampled are absent.</summary>
    public async Task<IReadOnlyList<LockHistoryPoint>> ReadAsync(MetricsWindow window, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var bucket = BucketOf(window);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var reader = await connection.QueryMultipleAsync(new CommandDefinition(ReadSql, new
        {
            StatementTimeoutMs = LockSnapshotQuery.Milliseconds(options.Value.StatementTimeout),
            From = (to - window.Length).UtcDateTime,
            To = to.UtcDateTime,
            Bucket = bucket,
            BucketSeconds = bucket.TotalSeconds,
        }, cancellationToken: cancellationToken));
        await reader.ReadAsync();
        return [.. (await reader.ReadAsync<Point>()).Select(p => new LockHistoryPoint(
            new DateTimeOffset(DateTime.SpecifyKind(p.At, DateTimeKind.Utc)), p.WaitingSessions, (double)p.LongestWaitSeconds, p.BlockedPurchases, p.Deadlocks, p.Conflicts))];
    }

    private sealed record Point(DateTime At, int WaitingSessions, decimal LongestWaitSeconds, int BlockedPurchases, long Deadlocks, long Conflicts);
}
