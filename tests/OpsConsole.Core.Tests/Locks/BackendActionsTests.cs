using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Locks;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Locks;

/// <summary>Cancel and terminate against real sessions: what is signalled, what is refused, what is recorded.</summary>
public sealed class BackendActionsTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private static readonly OpsActor Engineer = TestActors.For("erin", "engineer");

    [Fact]
    public async Task Cancel_stops_the_blockers_query_releases_its_waiter_and_is_recorded_with_what_it_blocked()
    {
        var (_, _, leads) = await LockKit.MarketAsync(database.DataSource);
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var actions = services.GetRequiredService<BackendActions>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var blocker = await scene.OpenAsync("slow checkout");
        var waiter = await scene.OpenAsync("buyer");
        await blocker.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[0] });
        blocker.Start("SELECT pg_sleep(60)");
        var sleeping = blocker.Pending;
        waiter.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = leads[0] });
        await scene.WaitUntilWaitingAsync(waiter);

        var result = await actions.CancelAsync(Engineer, new BackendRef(blocker.Pid, blocker.BackendStart), "checkout hangs on the card network", CancellationToken.None);

        Assert.True(result.Succeeded, result.Refusal?.Message);
        Assert.Equal([waiter.Pid], result.Value.BlockedPids);
        var error = await Assert.ThrowsAsync<PostgresException>(() => sleeping.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(PostgresErrorCodes.QueryCanceled, error.SqlState);
        await blocker.RunAsync("ROLLBACK");
        await waiter.Pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(await scene.IsAliveAsync(blocker));

        var record = await RecordAsync(result.Value.Id);
        Assert.Equal(("oidc:test|erin", "erin [oidc:test|erin]", "cancel", blocker.Pid), (record.ActorId, record.Actor, record.Action, record.Pid));
        Assert.Equal(blocker.BackendStart, new DateTimeOffset(record.BackendStart));
        Assert.Equal("SELECT pg_sleep(60)", record.Query);
        Assert.Equal([waiter.Pid], record.BlockedPids);
        Assert.Contains("UPDATE leads", Assert.Single(record.BlockedQueries));
        Assert.Equal(("checkout hangs on the card network", "cancel signal delivered", "slow checkout"), (record.Reason, record.Result, record.Application));
    }

    [Fact]
    public async Task Terminate_ends_an_idle_in_transaction_blocker_releases_its_waiter_and_is_recorded()
    {
        var (_, _, leads) = await LockKit.MarketAsync(database.DataSource);
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var actions = services.GetRequiredService<BackendActions>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var blocker = await scene.OpenAsync("forgotten transaction");
        var waiter = await scene.OpenAsync("buyer");
        await blocker.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[0] });
        waiter.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = leads[0] });
        await scene.WaitUntilWaitingAsync(waiter);
        var before = await LockKit.LockActionCountAsync(database.DataSource);

        var result = await actions.TerminateAsync(Engineer, new BackendRef(blocker.Pid, blocker.BackendStart), "left open since the deploy", CancellationToken.None);

        Assert.True(result.Succeeded, result.Refusal?.Message);
        await waiter.Pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(await scene.IsAliveAsync(blocker));
        Assert.Equal(before + 1, await LockKit.LockActionCountAsync(database.DataSource));
        var record = await RecordAsync(result.Value.Id);
        Assert.Equal(("terminate", "terminate signal delivered", "left open since the deploy"), (record.Action, record.Result, record.Reason));
    }

    [Fact]
    public async Task The_action_record_is_append_only_and_the_runtime_role_may_only_read_and_insert_it()
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO ops.lock_actions (actor_id, actor, action, pid, backend_start, reason, result)
            VALUES ('local:1', 'a', 'cancel', 1, now(), 'r', 'cancel signal delivered')
            """);
        var update = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync("UPDATE ops.lock_actions SET reason = 'x'"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, update.SqlState);
        await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync("DELETE FROM ops.lock_actions"));
        await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync("TRUNCATE ops.lock_actions"));

        var grants = (await connection.QueryAsync<string>("""
            SELECT table_name || ':' || string_agg(privilege_type, ',' ORDER BY privilege_type)
            FROM information_schema.role_table_grants
            WHERE grantee = 'opsconsole_runtime' AND table_schema = 'ops' AND table_name IN ('lock_actions', 'lock_samples')
            GROUP BY table_name ORDER BY table_name
            """)).ToList();
        Assert.Equal(["lock_actions:INSERT,SELECT", "lock_samples:DELETE,INSERT,SELECT"], grants);
    }

    [Fact]
    public async Task A_pid_now_belonging_to_another_session_is_refused_and_nothing_is_signalled_or_recorded()
    {
        var (_, _, leads) = await LockKit.MarketAsync(database.DataSource);
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var actions = services.GetRequiredService<BackendActions>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var blocker = await scene.OpenAsync("holder");
        var waiter = await scene.OpenAsync("buyer");
        await blocker.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[0] });
        waiter.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = leads[0] });
        await scene.WaitUntilWaitingAsync(waiter);
        var before = await LockKit.LockActionCountAsync(database.DataSource);

        // The session the engineer chose started a second earlier: its pid was reused by this one.
        var result = await actions.TerminateAsync(
            Engineer, new BackendRef(blocker.Pid, blocker.BackendStart.AddSeconds(-1)), "stuck", CancellationToken.None);

        Assert.Equal(RefusalKind.Conflict, result.Refusal?.Kind);
        Assert.Contains("now belongs to another session", result.Refusal!.Message);
        Assert.Contains("Nothing was signalled", result.Refusal.Message);
        Assert.True(await scene.IsAliveAsync(blocker));
        Assert.False(waiter.Pending.IsCompleted);
        Assert.Equal(before, await LockKit.LockActionCountAsync(database.DataSource));
    }

    [Fact]
    public async Task Bad_requests_are_refused_with_the_reason_and_nothing_is_signalled_or_recorded()
    {
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var actions = services.GetRequiredService<BackendActions>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var target = await scene.OpenAsync("target");
        await target.RunAsync("BEGIN; SELECT 1");
        var gone = await scene.OpenAsync("gone");
        var goneRef = new BackendRef(gone.Pid, gone.BackendStart);
        await using (var admin = await database.DataSource.OpenConnectionAsync())
        {
            await admin.ExecuteAsync("SELECT pg_terminate_backend(@Pid, 5000)", new { gone.Pid });
        }

        // A session of the console itself: the data source's application name.
        var dataSource = services.GetRequiredService<NpgsqlDataSource>();
        await using var own = await dataSource.OpenConnectionAsync();
        var ownRef = await own.QuerySingleAsync<OwnSession>("SELECT pid AS Pid, backend_start AS BackendStart FROM pg_stat_activity WHERE pid = pg_backend_pid()");
        // A session of another database on the same server.
        var elsewhere = await scene.OpenAsync("other database", database: "postgres");
        var targetRef = new BackendRef(target.Pid, target.BackendStart);
        var before = await LockKit.LockActionCountAsync(database.DataSource);

        var cases = new (string Name, Task<OpsResult<BackendActionRecord>> Result, RefusalKind Kind, string Says)[]
        {
            ("no reason", actions.TerminateAsync(Engineer, targetRef, "  ", CancellationToken.None), RefusalKind.Invalid, "Say why"),
            ("support", actions.TerminateAsync(Actor("support"), targetRef, "x", CancellationToken.None), RefusalKind.Forbidden, "engineer or admin role"),
            ("manager", actions.CancelAsync(Actor("manager"), targetRef, "x", CancellationToken.None), RefusalKind.Forbidden, "signed in as manager"),
            ("nobody", actions.CancelAsync(OpsActor.Nobody, targetRef, "x", CancellationToken.None), RefusalKind.Forbidden, "not allowed"),
            ("gone pid", actions.TerminateAsync(Engineer, goneRef, "x", CancellationToken.None), RefusalKind.NotFound, "has ended"),
            ("own backend", actions.TerminateAsync(Engineer, new BackendRef(ownRef.Pid, new DateTimeOffset(ownRef.BackendStart)), "x", CancellationToken.None),
                RefusalKind.Forbidden, "the console's own"),
            ("other database", actions.TerminateAsync(Engineer, new BackendRef(elsewhere.Pid, elsewhere.BackendStart), "x", CancellationToken.None),
                RefusalKind.Forbidden, "not the marketplace's"),
        };

        foreach (var (name, pending, kind, says) in cases)
        {
            var result = await pending;
            Assert.False(result.Succeeded, name);
            Assert.Equal((name, kind), (name, result.Refusal!.Kind));
            Assert.Contains(says, result.Refusal.Message);
        }

        Assert.True(await scene.IsAliveAsync(target));
        Assert.True(await scene.IsAliveAsync(elsewhere));
        Assert.Equal(1, await own.ExecuteScalarAsync<int>("SELECT 1"));
        Assert.Equal(before, await LockKit.LockActionCountAsync(database.DataSource));
    }

    [Fact]
    public async Task With_the_database_gone_the_action_is_refused_and_not_thrown()
    {
        var closedPort = new NpgsqlConnectionStringBuilder(database.SuperuserConnectionString) { Port = 1, Timeout = 2 }.ConnectionString;
        await using var services = LockKit.Services(closedPort);
        var actions = services.GetRequiredService<BackendActions>();

        var result = await actions.TerminateAsync(Engineer, new BackendRef(4242, DateTimeOffset.UtcNow), "stuck", CancellationToken.None);

        Assert.Equal(RefusalKind.Conflict, result.Refusal?.Kind);
        Assert.Contains("cannot be reached", result.Refusal!.Message);
        Assert.Contains("Nothing was signalled", result.Refusal.Message);
    }

    [Fact]
    public async Task A_console_role_without_pg_signal_backend_is_told_which_grant_is_missing_and_nothing_is_signalled()
    {
        var console = "lv_console_" + Guid.NewGuid().ToString("N")[..8];
        var other = "lv_other_" + Guid.NewGuid().ToString("N")[..8];
        await using (var admin = await database.DataSource.OpenConnectionAsync())
        {
            await admin.ExecuteAsync($"CREATE ROLE {console} LOGIN PASSWORD '{LockKit.SuperuserPassword(database)}'; CREATE ROLE {other} LOGIN PASSWORD '{LockKit.SuperuserPassword(database)}'");
        }

        try
        {
            await using var scene = new LockScene(database.SuperuserConnectionString);
            var target = await scene.OpenAsync("someone else's session", user: other);
            await target.RunAsync("BEGIN; SELECT 1");
            var asConsole = new NpgsqlConnectionStringBuilder(database.SuperuserConnectionString) { Username = console }.ConnectionString;
            await using var services = LockKit.Services(asConsole);
            var before = await LockKit.LockActionCountAsync(database.DataSource);

            var result = await services.GetRequiredService<BackendActions>()
                .TerminateAsync(Engineer, new BackendRef(target.Pid, target.BackendStart), "stuck", CancellationToken.None);

            Assert.Equal(RefusalKind.Rule, result.Refusal?.Kind);
            Assert.Contains($"GRANT pg_monitor TO {console};", result.Refusal!.Message);
            Assert.Contains($"GRANT pg_signal_backend TO {console};", result.Refusal!.Message);

            // With pg_monitor it can tell the session apart; the signal still needs pg_signal_backend.
            await using (var admin = await database.DataSource.OpenConnectionAsync())
            {
                await admin.ExecuteAsync($"GRANT pg_monitor TO {console}");
            }

            result = await services.GetRequiredService<BackendActions>()
                .TerminateAsync(Engineer, new BackendRef(target.Pid, target.BackendStart), "stuck", CancellationToken.None);
            Assert.Equal(RefusalKind.Rule, result.Refusal?.Kind);
            Assert.DoesNotContain("pg_monitor", result.Refusal!.Message);
            Assert.Contains($"GRANT pg_signal_backend TO {console};", result.Refusal.Message);
            Assert.True(await scene.IsAliveAsync(target));
            Assert.Equal(before, await LockKit.LockActionCountAsync(database.DataSource));
        }
        finally
        {
            await using var admin = await database.DataSource.OpenConnectionAsync();
            await admin.ExecuteAsync($"""
                SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename IN ('{console}', '{other}');
                DROP ROLE IF EXISTS {console}; DROP ROLE IF EXISTS {other}
                """);
        }
    }

    private static OpsActor Actor(string role) => TestActors.For(role, role);

    private async Task<ActionRecord> RecordAsync(long id)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        return await connection.QuerySingleAsync<ActionRecord>("""
            SELECT actor_id AS ActorId, actor AS Actor, action AS Action, pid AS Pid, backend_start AS BackendStart, query AS Query,
                   application AS Application, blocked_pids AS BlockedPids, blocked_queries AS BlockedQueries, reason AS Reason, result AS Result
            FROM ops.lock_actions WHERE id = @Id
            """, new { Id = id });
    }

    private sealed record OwnSession(int Pid, DateTime BackendStart);

    private sealed class ActionRecord
    {
        public string ActorId { get; init; } = "";

        public string Actor { get; init; } = "";

        public string Action { get; init; } = "";

        public int Pid { get; init; }

        public DateTime BackendStart { get; init; }

        public string? Query { get; init; }

        public string? Application { get; init; }

        public int[] BlockedPids { get; init; } = [];

        public string[] BlockedQueries { get; init; } = [];

        public string Reason { get; init; } = "";

        public string Result { get; init; } = "";
    }
}
