using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Database;

namespace OpsConsole.Core.Locks;

/// <summary>Cancel the session's current query (<c>pg_cancel_backend</c>) or end the session (<c>pg_terminate_backend</c>).</summary>
public enum BackendAction
{
    /// <summary>Cancel its current query; its transaction rolls back, the connection stays.</summary>
    Cancel,

    /// <summary>End the session; its transaction rolls back.</summary>
    Terminate,
}

/// <summary>A session named so that a later session with the same pid is never mistaken for it.</summary>
/// <param name="Pid">Process id.</param>
/// <param name="BackendStart">pg_stat_activity.backend_start of the session meant.</param>
public sealed record BackendRef(int Pid, DateTimeOffset BackendStart);

/// <summary>A signal the console sent, as kept in <c>ops.lock_actions</c>.</summary>
/// <param name="Id">The record's id.</param>
/// <param name="Action">Cancel or terminate.</param>
/// <param name="Pid">The session signalled.</param>
/// <param name="BlockedPids">The sessions it blocked when signalled.</param>
/// <param name="Result">What PostgreSQL answered.</param>
public sealed record BackendActionRecord(long Id, BackendAction Action, int Pid, IReadOnlyList<int> BlockedPids, string Result);

/// <summary>
/// Cancels or terminates a session of the marketplace's database for an engineer or admin, with a reason, and keeps
/// a record of every signal actually sent in the append-only <c>ops.lock_actions</c>. The session is named by pid and
/// backend start: a pid that now belongs to another session (pid reuse) or a session that ended is refused, as are
/// the console's own sessions (its application name), sessions of other databases, and signals the console's database
/// role may not send (which GRANT is missing is said). The check and the signal are one statement, and the record is
/// written by that same statement, so a refused or undeliverable signal leaves no record and nothing signalled.
/// </summary>
public sealed class BackendActions(NpgsqlDataSource dataSource, OpsTransactions transactions, IOptions<LockOptions> options)
{
    /// <summary>Longest reason kept.</summary>
    public const int MaxReasonLength = 1000;

    private const string TargetSql = """
        SELECT a.pid AS Pid, a.backend_start AS BackendStart, a.datname AS Database, a.usename AS User,
               a.application_name AS Application, a.query AS Query, a.backend_type AS BackendType,
               a.pid = pg_backend_pid() AS IsOwnConnection, current_database() AS CurrentDatabase, current_user AS Role,
               coalesce(t.rolsuper, false) AS TargetIsSuperuser, me.rolsuper AS IsSuperuser,
               me.rolsuper OR pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS CanSignal,
               me.rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS CanReadAllSessions,
               a.usename IS NOT NULL AND pg_has_role(current_user, a.usesysid, 'MEMBER') AS OwnsTarget,
               ARRAY(SELECT b.pid FROM pg_stat_activity AS b
                     WHERE b.wait_event_type = 'Lock' AND a.pid = ANY (pg_blocking_pids(b.pid)) ORDER BY b.pid) AS BlockedPids,
               ARRAY(SELECT coalesce(b.query, '') FROM pg_stat_activity AS b
                     WHERE b.wait_event_type = 'Lock' AND a.pid = ANY (pg_blocking_pids(b.pid)) ORDER BY b.pid) AS BlockedQueries
        FROM pg_stat_activity AS a
        LEFT JOIN pg_roles AS t ON t.oid = a.usesysid
        CROSS JOIN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS me
        WHERE a.pid = @Pid
        """;

    // Checks pid and backend start again in the statement that signals, so a session that ended (and whose pid was
    // reused) between the checks and the signal is never signalled; the record is written only when the signal was
    // delivered (pg_*_backend returns false when the process was already gone).
    private const string SignalSql = """
        WITH target AS (
            SELECT a.pid,
                   CASE WHEN @Action = 'terminate' THEN pg_terminate_backend(a.pid) ELSE pg_cancel_backend(a.pid) END AS sent
            FROM pg_stat_activity AS a
            WHERE a.pid = @Pid AND a.backend_start = @BackendStart AND a.datname = current_database()
        )
        INSERT INTO ops.lock_actions
            (actor_id, actor, action, pid, backend_start, username, application, query, blocked_pids, blocked_queries, reason, result)
        SELECT @ActorId, @Actor, @Action, @Pid, @BackendStart, @User, @Application, @Query, @BlockedPids, @BlockedQueries, @Reason,
               CASE WHEN @Action = 'terminate' THEN 'terminate signal delivered' ELSE 'cancel signal delivered' END
        FROM target
        WHERE target.sent
        RETURNING id
        """;

    private readonly string _ownApplication = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).ApplicationName ?? "";

    /// <summary>True when <paramref name="session"/> carries the console's own application name: cancel and terminate are refused for it.</summary>
    public bool IsConsoleSession(LockSession session) =>
        _ownApplication.Length > 0 && string.Equals(session.Application, _ownApplication, StringComparison.Ordinal);

    /// <summary>Cancels the session's current query.</summary>
    public Task<OpsResult<BackendActionRecord>> CancelAsync(OpsActor actor, BackendRef target, string? reason, CancellationToken cancellationToken) =>
        SignalAsync(actor, BackendAction.Cancel, target, reason, cancellationToken);

    /// <summary>Ends the session.</summary>
    public Task<OpsResult<BackendActionRecord>> TerminateAsync(OpsActor actor, BackendRef target, string? reason, CancellationToken cancellationToken) =>
        SignalAsync(actor, BackendAction.Terminate, target, reason, cancellationToken);

    /// <summary>Sends <paramref name="action"/> to <paramref name="target"/> after every check; see the class summary.</summary>
    public async Task<OpsResult<BackendActionRecord>> SignalAsync(
        OpsActor actor, BackendAction action, BackendRef target, string? reason, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.ManageBackends) is { } forbidden)
        {
            return forbidden;
        }

        var why = reason?.Trim() ?? "";
        if (why.Length == 0)
        {
            return Refusal.Invalid($"Say why you {Verb(action)} session {target.Pid}: the reason is kept with the action. Nothing was signalled.");
        }

        if (why.Length > MaxReasonLength)
        {
            return Refusal.Invalid($"The reason is {why.Length} characters long; at most {MaxReasonLength} are kept. Nothing was signalled.");
        }

        var settings = options.Value;
        try
        {
            return await transactions.RunAsync<BackendActionRecord>(async tx =>
            {
                await tx.ExecuteAsync(
                    "SELECT set_config('lock_timeout', @L, true), set_config('statement_timeout', @S, true)",
                    new { L = LockSnapshotQuery.Milliseconds(settings.LockTimeout), S = LockSnapshotQuery.Milliseconds(settings.StatementTimeout) });
                var found = await tx.QuerySingleOrDefaultAsync<Target>(TargetSql, new { target.Pid });
                if (Check(found, target) is { } refusal)
                {
                    return refusal;
                }

                var id = await tx.QuerySingleOrDefaultAsync<long?>(SignalSql, new
                {
                    Action = action == BackendAction.Terminate ? "terminate" : "cancel",
                    target.Pid,
                    BackendStart = target.BackendStart.UtcDateTime,
                    ActorId = actor.Id,
                    Actor = actor.AuditName,
                    found!.User,
                    found.Application,
                    found.Query,
                    found.BlockedPids,
                    found.BlockedQueries,
                    Reason = why,
                });
                if (id is not { } recorded)
                {
                    return Refusal.NotFound($"Session {target.Pid} ended before the signal reached it. Nothing was signalled.");
                }

                return new BackendActionRecord(
                    recorded, action, target.Pid, found.BlockedPids,
                    action == BackendAction.Terminate ? "terminate signal delivered" : "cancel signal delivered");
            }, cancellationToken);
        }
        catch (PostgresException error) when (LockSnapshotQuery.IsTimeout(error))
        {
            return Refusal.Conflict($"The database did not answer within the lock view's timeouts ({error.MessageText}). Nothing was signalled.");
        }
        catch (PostgresException error) when (error.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            return Refusal.Rule($"PostgreSQL refused the signal: {error.MessageText}. Nothing was signalled.");
        }
        catch (NpgsqlException error) when (error is not PostgresException)
        {
            return Refusal.Conflict($"The database cannot be reached ({error.Message}). Nothing was signalled.");
        }
    }

    private Refusal? Check(Target? found, BackendRef target)
    {
        if (found is null)
        {
            return Refusal.NotFound($"Session {target.Pid} has ended. Nothing was signalled.");
        }

        var role = LockPrivileges.QuoteIdent(found.Role);
        if (found.BackendStart is null)
        {
            // pg_stat_activity hides another user's backend start from a role without pg_read_all_stats.
            return Refusal.Rule(
                $"The console's database role {found.Role} cannot see other users' sessions, so it cannot tell session {target.Pid} from a later one "
                + $"with the same pid: a database administrator must run GRANT pg_monitor TO {role};"
                + (found.CanSignal ? "" : $" and GRANT pg_signal_backend TO {role};") + " Nothing was signalled.");
        }

        var started = new DateTimeOffset(DateTime.SpecifyKind(found.BackendStart.Value, DateTimeKind.Utc));
        // Microseconds: what PostgreSQL keeps; the page may have rounded the value it shows, not the one it sends.
        if (Math.Abs((started - target.BackendStart).Ticks) >= 10)
        {
            return Refusal.Conflict(
                $"Pid {target.Pid} now belongs to another session (started {started:u}), not the one you chose (started {target.BackendStart.ToUniversalTime():u}): "
                + "that session has ended and its pid was reused. Nothing was signalled.");
        }

        if (found.Database != found.CurrentDatabase)
        {
            return Refusal.Forbidden(
                $"Session {target.Pid} is connected to database {found.Database ?? "(none)"}, not the marketplace's ({found.CurrentDatabase}): "
                + "the console signals only sessions of its own database. Nothing was signalled.");
        }

        if (found.IsOwnConnection || (_ownApplication.Length > 0 && string.Equals(found.Application, _ownApplication, StringComparison.Ordinal)))
        {
            return Refusal.Forbidden(
                $"Session {target.Pid} is one of the console's own (application name \"{found.Application}\"): the console does not signal itself. Nothing was signalled.");
        }

        if (found.TargetIsSuperuser && !found.IsSuperuser)
        {
            return Refusal.Rule($"Session {target.Pid} belongs to superuser {found.User}: only a superuser may signal it. Nothing was signalled.");
        }

        if (!found.CanSignal && !found.OwnsTarget)
        {
            return Refusal.Rule(
                $"The console's database role {found.Role} may not signal other users' sessions: a database administrator must run "
                + $"GRANT pg_signal_backend TO {role}; Nothing was signalled.");
        }

        return null;
    }

    private static string Verb(BackendAction action) => action == BackendAction.Terminate ? "terminate" : "cancel";

    private sealed class Target
    {
        public int Pid { get; init; }

        public DateTime? BackendStart { get; init; }

        public string? Database { get; init; }

        public string? User { get; init; }

        public string? Application { get; init; }

        public string? Query { get; init; }

        public string? BackendType { get; init; }

        public bool IsOwnConnection { get; init; }

        public string CurrentDatabase { get; init; } = "";

        public string Role { get; init; } = "";

        public bool TargetIsSuperuser { get; init; }

        public bool IsSuperuser { get; init; }

        public bool CanSignal { get; init; }

        public bool CanReadAllSessions { get; init; }

        public bool OwnsTarget { get; init; }

        public int[] BlockedPids { get; init; } = [];

        public string[] BlockedQueries { get; init; } = [];
    }
}
