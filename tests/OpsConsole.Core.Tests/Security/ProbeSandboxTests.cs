using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Security;

/// <summary>
/// A runbook check is a sandboxed read: whatever its text, the database refuses a second statement, anything but a
/// query, writes, and the side effects of functions a reader may not call; and nothing changes.
/// </summary>
public sealed class ProbeSandboxTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>, IAsyncLifetime
{
    private ServiceProvider _services = null!;

    private ProbeRunner Runner => _services.GetRequiredService<ProbeRunner>();

    public async Task InitializeAsync()
    {
        _services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?> { ["Deployments:ListenForChanges"] = "false" });
        var sellers = await MarketSeed.WorkspacesAsync(database.DataSource, 2, 50m);
        await MarketSeed.ListedLeadsAsync(database.DataSource, sellers, 3, 5m);
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    public static TheoryData<string, string> Attacks => new()
    {
        // The hole: a quote inside a dollar-quoted string made the old single-statement test blind to what follows,
        // and the driver sent the rest as statements of their own, the UPDATE after the read-only transaction ended.
        { "SELECT $q$it's$q$ AS t; ROLLBACK; UPDATE workspace_credits SET balance = balance + 1000; SELECT 'x'", "42601" },
        { "SELECT 1; SELECT 2", "42601" },
        { "SELECT 1; DELETE FROM audit_logs", "42601" },
        { "SELECT 1; COPY (SELECT 1) TO PROGRAM 'touch /tmp/opsconsole-probe-pwned'", "42601" },
        { "WITH gone AS (DELETE FROM workspaces RETURNING id) SELECT count(*) FROM gone", "0A000" },
        { "SELECT pg_reload_conf()", "42501" },
        { "SELECT pg_read_file('PG_VERSION')", "42501" },
        { "SELECT * FROM pg_ls_dir('.')", "42501" },
        { "SELECT lo_import('/etc/passwd')", "42501" },
        { "SELECT id FROM leads FOR UPDATE", "25006" },
    };

    [Theory]
    [MemberData(nameof(Attacks))]
    public async Task An_attack_in_a_check_is_refused_by_the_database_and_changes_nothing(string sql, string sqlState)
    {
        var before = await FootprintAsync();

        var execution = await Runner.RunAsync(Check(sql), CancellationToken.None);

        Assert.False(execution.Verdict.Passed);
        Assert.StartsWith($"Failed: {sqlState} ", execution.Verdict.Message, StringComparison.Ordinal);
        Assert.Equal(before, await FootprintAsync());
        Assert.False(File.Exists("/tmp/opsconsole-probe-pwned"));
    }

    [Theory]
    [InlineData("COPY (SELECT 1) TO PROGRAM 'touch /tmp/opsconsole-probe-pwned'")]
    [InlineData("UPDATE workspace_credits SET balance = 0")]
    [InlineData("DO $$ BEGIN PERFORM pg_sleep(0); END $$")]
    [InlineData("-- looks like a check\nSET ROLE opsconsole_runtime")]
    public async Task A_check_that_is_not_one_SELECT_or_WITH_query_is_refused_before_it_is_sent(string sql)
    {
        var before = await FootprintAsync();

        var execution = await Runner.RunAsync(Check(sql), CancellationToken.None);

        Assert.False(execution.Verdict.Passed);
        Assert.Equal("Refused: a check is one SELECT or WITH query.", execution.Verdict.Message);
        Assert.Equal(before, await FootprintAsync());
        Assert.False(File.Exists("/tmp/opsconsole-probe-pwned"));
    }

    [Fact]
    public async Task A_check_cannot_terminate_the_consoles_own_session()
    {
        await using var console = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database.ConnectionString) { Pooling = false }.ConnectionString);
        await console.OpenAsync();
        var pid = await console.ExecuteScalarAsync<int>("SELECT pg_backend_pid()");

        var terminate = await Runner.RunAsync(Check($"SELECT pg_terminate_backend({pid})"), CancellationToken.None);
        var cancel = await Runner.RunAsync(Check($"SELECT pg_cancel_backend({pid})"), CancellationToken.None);

        Assert.StartsWith("Failed: 42501 ", terminate.Verdict.Message, StringComparison.Ordinal);
        Assert.StartsWith("Failed: 42501 ", cancel.Verdict.Message, StringComparison.Ordinal);
        Assert.Equal(1, await console.ExecuteScalarAsync<int>("SELECT 1"));
    }

    [Fact]
    public async Task A_purchase_function_called_from_a_check_fails_at_its_first_write_and_the_expired_reservation_stays()
    {
        var buyer = (await MarketSeed.WorkspacesAsync(database.DataSource, 1, 100m))[0];
        var seller = (await MarketSeed.WorkspacesAsync(database.DataSource, 1, 0m))[0];
        var lead = (await MarketSeed.ListedLeadsAsync(database.DataSource, [seller], 1, 5m))[0];
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("SET marketplace.reservation_ttl = '1ms'");
        var purchase = await connection.ExecuteScalarAsync<Guid>(
            "SELECT purchase_id FROM validate_and_lock_leads_for_purchase(@Buyer, @Leads, 'stripe')", new { Buyer = buyer, Leads = new[] { lead } });
        await connection.ExecuteAsync("SELECT pg_sleep(0.01)");

        var execution = await Runner.RunAsync(Check("SELECT release_expired_lead_reservations()"), CancellationToken.None);

        Assert.StartsWith("Failed: 25006 ", execution.Verdict.Message, StringComparison.Ordinal);
        Assert.Equal("pending", await connection.ExecuteScalarAsync<string>("SELECT status FROM marketplace_purchases WHERE id = @purchase", new { purchase }));
    }

    [Fact]
    public async Task Checks_refuse_to_run_as_a_login_that_may_do_more_than_read()
    {
        await using var services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?>
        {
            ["Deployments:ListenForChanges"] = "false",
            ["ConnectionStrings:MarketplaceProbe"] = database.ConnectionString,
        });

        var execution = await services.GetRequiredService<ProbeRunner>().RunAsync(Check("SELECT 1"), CancellationToken.None);

        Assert.False(execution.Verdict.Passed);
        Assert.Equal(
            "Refused: the check login opsconsole_app may do more than read (not a member of opsconsole_probe, member of opsconsole_runtime); checks run as a member of opsconsole_probe only.",
            execution.Verdict.Message);
    }

    [Fact]
    public async Task Without_a_probe_login_checks_do_not_run_and_say_why()
    {
        await using var services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?>
        {
            ["Deployments:ListenForChanges"] = "false",
            ["ConnectionStrings:MarketplaceProbe"] = "",
        });

        var execution = await services.GetRequiredService<ProbeRunner>().RunAsync(Check("SELECT 1"), CancellationToken.None);

        Assert.False(execution.Verdict.Passed);
        Assert.Equal(ProbeRunner.NotConfiguredMessage, execution.Verdict.Message);
    }

    [Fact]
    public async Task A_plain_check_reads_as_the_probe_login_in_a_read_only_transaction_under_its_timeout()
    {
        var execution = await Runner.RunAsync(
            Check("SELECT session_user::text AS who, current_setting('transaction_read_only') AS ro, current_setting('statement_timeout') AS timeout"),
            CancellationToken.None);

        Assert.True(execution.Verdict.Passed, execution.Verdict.Message);
        Assert.Equal(new object?[] { "opsconsole_checks", "on", "10s" }, execution.Output.Rows.Single());
    }

    private static Probe Check(string sql) => new("t/attack", "Attack", sql, ProbeExpectation.None, SectionRole.None, "t");

    // Everything an attack above could change, as one comparable value.
    private async Task<string> FootprintAsync()
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<string>("""
            SELECT concat_ws('/', (SELECT sum(balance) FROM workspace_credits), (SELECT count(*) FROM workspaces),
                             (SELECT count(*) FROM audit_logs), (SELECT count(*) FROM leads WHERE marketplace_status = 'available'),
                             (SELECT count(*) FROM pg_largeobject_metadata))
            """) ?? "";
    }
}
