using System.Globalization;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace OpsConsole.Core.Locks;

/// <summary>
/// Reads the marketplace database's locks. The snapshot is one round trip: one batch (one implicit transaction)
/// that sets <c>lock_timeout</c> and <c>statement_timeout</c> for itself, then reads <c>pg_stat_activity</c> with
/// <c>pg_blocking_pids()</c> of each session waiting for a lock, its <c>pg_locks</c> rows, and the console role's
/// privileges. When some session waits on a row of <c>leads</c>, <c>workspace_credits</c> or
/// <c>marketplace_purchases</c>, a second round trip names those rows (<c>ops.resolve_locked_rows</c>), each table
/// giving up on its own under <c>lock_timeout</c>. Neither touches a marketplace table otherwise, so a monitor query
/// never queues behind the locks it reports.
/// </summary>
public sealed class LockSnapshotQuery(NpgsqlDataSource dataSource, IOptions<LockOptions> options, TimeProvider time)
{
    private const string SnapshotSql = """
        SELECT set_config('lock_timeout', @LockTimeoutMs, true), set_config('statement_timeout', @StatementTimeoutMs, true);

        SELECT a.pid AS Pid, a.backend_start AS BackendStart, a.usename AS User, a.application_name AS Application,
               host(a.client_addr) AS ClientAddress, a.state AS State, a.wait_event_type AS WaitEventType,
               a.wait_event AS WaitEvent, a.xact_start AS TransactionStart, a.query_start AS QueryStart, a.query AS Query,
               CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) ELSE '{}'::int[] END AS BlockedBy
        FROM pg_stat_activity AS a
        WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
        ORDER BY a.pid;

        SELECT l.pid AS Pid, l.locktype AS LockType, l.mode AS Mode, l.granted AS Granted,
               l.relation::regclass::text AS Relation, l.relation::int8 AS RelationId, l.page AS Page, l.tuple::int AS Tuple,
               l.transactionid::text AS TransactionId, l.virtualxid AS VirtualXid, l.objid::int8 AS ObjectId,
               l.waitstart AS WaitStart
        FROM pg_locks AS l
        JOIN pg_stat_activity AS a ON a.pid = l.pid
        WHERE a.datname = current_database() AND l.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
        ORDER BY l.pid, l.granted, l.locktype;

        SELECT current_user AS Role, r.rolsuper AS IsSuperuser,
               r.rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS CanReadAllSessions,
               r.rolsuper OR pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS CanSignal,
               coalesce((SELECT d.deadlocks FROM pg_stat_database AS d WHERE d.datname = current_database()), 0) AS Deadlocks,
               now() AS TakenAt
        FROM pg_roles AS r
        WHERE r.rolname = current_user;
        """;

    private const string ResolveSql = """
        SELECT set_config('lock_timeout', @LockTimeoutMs, true), set_config('statement_timeout', @StatementTimeoutMs, true);

        SELECT relation::int8 AS RelationId, page AS Page, tuple AS Tuple, kind AS Kind, row_id AS RowId,
               owner_id AS OwnerId, owner_name AS OwnerName, unresolved AS Unresolved
        FROM ops.resolve_locked_rows(@Relations::oid[], @Pages, @Tuples);
        """;

    private long _executed;

    /// <summary>Round trips made so far (the benchmark's and the sampler test's "queries per sample").</summary>
    public long Executed => Interlocked.Read(ref _executed);

    /// <summary>
    /// One snapshot. A timeout of the snapshot itself returns a snapshot with <see cref="LockSnapshot.TimedOut"/>
    /// set (never an empty one); a row that cannot be named in time is kept with its reason.
    /// </summary>
    public async Task<LockSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var timeouts = new
        {
            LockTimeoutMs = Milliseconds(settings.LockTimeout),
            StatementTimeoutMs = Milliseconds(settings.StatementTimeout),
        };
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        List<LockSession> sessions;
        List<LockRow> locks;
        Header header;
        try
        {
            Interlocked.Increment(ref _executed);
            await using var reader = await connection.QueryMultipleAsync(new CommandDefinition(SnapshotSql, timeouts, cancellationToken: cancellationToken));
            await reader.ReadAsync();
            sessions = [.. (await reader.ReadAsync<SessionRow>()).Select(r => r.ToSession())];
            locks = [.. (await reader.ReadAsync<LockRowData>()).Select(r => r.ToLock())];
            header = await reader.ReadSingleAsync<Header>();
        }
        catch (PostgresException error) when (IsTimeout(error))
        {
            return new LockSnapshot { TakenAt = time.GetUtcNow(), TimedOut = TimeoutMessage(error, settings) };
        }

        var privileges = new LockPrivileges(header.Role, header.IsSuperuser, header.CanReadAllSessions, header.CanSignal);
        var rows = await ResolveRowsAsync(connection, timeouts, sessions, locks, cancellationToken);
        var takenAt = new DateTimeOffset(header.TakenAt, TimeSpan.Zero);
        return new LockSnapshot
        {
            TakenAt = takenAt,
            Sessions = sessions,
            Locks = locks,
            Rows = rows,
            Privileges = privileges,
            DeadlocksTotal = header.Deadlocks,
            Tree = BlockingForest.Build(sessions),
            Summary = Summarise(sessions, locks, rows, takenAt),
        };
    }

    /// <summary>The lock level of a wait of <paramref name="waited"/>.</summary>
    public static WaitLevel Level(TimeSpan? waited, LockOptions settings) => waited switch
    {
        { } w when w >= settings.WaitAlert => WaitLevel.Alert,
        { } w when w >= settings.WaitWarn => WaitLevel.Warn,
        _ => WaitLevel.Ok,
    };

    internal static bool IsTimeout(PostgresException error) =>
        error.SqlState is PostgresErrorCodes.QueryCanceled or PostgresErrorCodes.LockNotAvailable;

    internal static string TimeoutMessage(PostgresException error, LockOptions settings) =>
        error.SqlState == PostgresErrorCodes.LockNotAvailable
            ? $"Lock view timed out: the monitor waited longer than Locks:LockTimeout ({settings.LockTimeout.TotalSeconds:0.###} s) for a lock."
            : $"Lock view timed out: the snapshot took longer than Locks:StatementTimeout ({settings.StatementTimeout.TotalSeconds:0.###} s).";

    internal static string Milliseconds(TimeSpan value) =>
        ((long)Math.Ceiling(value.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";

    // The row a waiting session contends for: the tuple lock it awaits, or, when it waits on a transaction (the
    // first waiter of a row holds the row's tuple lock and waits for the holder's transaction), the tuple lock it
    // holds while it waits.
    private async Task<IReadOnlyDictionary<int, ContendedRow>> ResolveRowsAsync(
        NpgsqlConnection connection, object timeouts, List<LockSession> sessions, List<LockRow> locks, CancellationToken cancellationToken)
    {
        var wanted = new Dictionary<int, LockRow>();
        foreach (var session in sessions.Where(s => s.IsWaiting))
        {
            var mine = locks.Where(l => l.Pid == session.Pid).ToList();
            var awaited = mine.FirstOrDefault(l => !l.Granted);
            var tuple = awaited is { LockType: "tuple" }
                ? awaited
                : awaited is { LockType: "transactionid" } ? mine.FirstOrDefault(l => l.Granted && l.LockType == "tuple") : null;
            if (tuple is { Page: not null, Tuple: not null, RelationId: not null })
            {
                wanted[session.Pid] = tuple;
            }
        }

        if (wanted.Count == 0)
        {
            return new Dictionary<int, ContendedRow>();
        }

        var targets = wanted.Values.Where(l => ContendedRow.IsMarketplaceTable(l.Relation))
            .Select(l => (Relation: l.RelationId!.Value, Page: l.Page!.Value, Tuple: l.Tuple!.Value))
            .Distinct()
            .ToList();
        var resolved = new Dictionary<(uint, int, int), ResolvedRow>();
        if (targets.Count > 0)
        {
            try
            {
                Interlocked.Increment(ref _executed);
                var parameters = new DynamicParameters(timeouts);
                parameters.AddDynamicParams(new
                {
                    Relations = targets.Select(t => (long)t.Relation).ToArray(),
                    Pages = targets.Select(t => t.Page).ToArray(),
                    Tuples = targets.Select(t => t.Tuple).ToArray(),
                });
                await using var reader = await connection.QueryMultipleAsync(new CommandDefinition(ResolveSql, parameters, cancellationToken: cancellationToken));
                await reader.ReadAsync();
                foreach (var row in await reader.ReadAsync<ResolvedRow>())
                {
                    resolved[((uint)row.RelationId, row.Page, row.Tuple)] = row;
                }
            }
            catch (PostgresException error) when (IsTimeout(error))
            {
                foreach (var target in targets)
                {
                    resolved[target] = new ResolvedRow { RelationId = target.Relation, Page = target.Page, Tuple = target.Tuple, Unresolved = "the row lookup timed out" };
                }
            }
        }

        return wanted.ToDictionary(
            w => w.Key,
            w => resolved.TryGetValue((w.Value.RelationId!.Value, w.Value.Page!.Value, w.Value.Tuple!.Value), out var r)
                ? new ContendedRow(w.Value.Relation, r.Page, r.Tuple, r.Kind, r.RowId, r.OwnerId, r.OwnerName,
                    r.Unresolved ?? (r.RowId is null ? "the row version is gone (updated or deleted since)" : null))
                : new ContendedRow(w.Value.Relation, w.Value.Page!.Value, w.Value.Tuple!.Value));
    }

    private static LockSummary Summarise(
        List<LockSession> sessions, List<LockRow> locks, IReadOnlyDictionary<int, ContendedRow> rows, DateTimeOffset now)
    {
        var waiting = sessions.Where(s => s.IsWaiting).ToList();
        var longest = locks.Where(l => !l.Granted && l.WaitStart is not null)
            .Select(l => now - l.WaitStart!.Value)
            .DefaultIfEmpty(TimeSpan.Zero)
            .Max();
        var blocking = sessions.SelectMany(s => s.BlockedBy).Distinct().Count();
        var purchases = waiting.Count(s => IsPurchase(s) || (rows.TryGetValue(s.Pid, out var row) && ContendedRow.IsMarketplaceTable(row.Relation)));
        return new LockSummary(waiting.Count, blocking, longest < TimeSpan.Zero ? TimeSpan.Zero : longest, purchases);
    }

    private static bool IsPurchase(LockSession session) =>
        session.Query is { } query
        && (query.Contains("lead_purchase", StringComparison.OrdinalIgnoreCase)
            || query.Contains("mark_leads_sold_bulk", StringComparison.OrdinalIgnoreCase));

    private sealed record Header(string Role, bool IsSuperuser, bool CanReadAllSessions, bool CanSignal, long Deadlocks, DateTime TakenAt);

    private sealed class SessionRow
    {
        public int Pid { get; init; }

        public DateTime BackendStart { get; init; }

        public string? User { get; init; }

        public string? Application { get; init; }

        public string? ClientAddress { get; init; }

        public string? State { get; init; }

        public string? WaitEventType { get; init; }

        public string? WaitEvent { get; init; }

        public DateTime? TransactionStart { get; init; }

        public DateTime? QueryStart { get; init; }

        public string? Query { get; init; }

        public int[] BlockedBy { get; init; } = [];

        public LockSession ToSession() => new(
            Pid, Utc(BackendStart), User, Application, ClientAddress, State, WaitEventType, WaitEvent,
            TransactionStart is { } x ? Utc(x) : null, QueryStart is { } q ? Utc(q) : null, Query, BlockedBy);
    }

    private sealed class LockRowData
    {
        public int Pid { get; init; }

        public string LockType { get; init; } = "";

        public string Mode { get; init; } = "";

        public bool Granted { get; init; }

        public string? Relation { get; init; }

        public long? RelationId { get; init; }

        public int? Page { get; init; }

        public int? Tuple { get; init; }

        public string? TransactionId { get; init; }

        public string? VirtualXid { get; init; }

        public long? ObjectId { get; init; }

        public DateTime? WaitStart { get; init; }

        public LockRow ToLock() => new(
            Pid, LockType, Mode, Granted, Relation, RelationId is { } r ? (uint)r : null, Page, Tuple, TransactionId, VirtualXid, ObjectId,
            WaitStart is { } w ? Utc(w) : null);
    }

    private sealed class ResolvedRow
    {
        public long RelationId { get; init; }

        public int Page { get; init; }

        public int Tuple { get; init; }

        public string? Kind { get; init; }

        public Guid? RowId { get; init; }

        public Guid? OwnerId { get; init; }

        public string? OwnerName { get; init; }

        public string? Unresolved { get; init; }
    }

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
