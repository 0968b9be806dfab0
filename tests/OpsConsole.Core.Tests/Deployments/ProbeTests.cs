using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Database;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using static OpsConsole.Core.Tests.Deployments.DeploymentTestKit;

namespace OpsConsole.Core.Tests.Deployments;

/// <summary>The shipped runbook's probes against a real migrated database; this class changes the marketplace schema, so it has a database of its own.</summary>
public sealed class ProbeTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>, IAsyncLifetime
{
    private ServiceProvider _services = null!;

    private NpgsqlDataSource Db => database.DataSource;

    private IDeploymentService Service => _services.GetRequiredService<IDeploymentService>();

    public Task InitializeAsync()
    {
        _services = Services(database.ConnectionString);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task Every_probe_passes_on_a_freshly_migrated_database_with_honest_traffic_and_the_evidence_is_stored()
    {
        var sellers = await MarketSeed.WorkspacesAsync(Db, 2, 0m);
        var buyer = (await MarketSeed.WorkspacesAsync(Db, 1, 100m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(Db, sellers, 2, 5m);
        var purchase = await _services.GetRequiredService<OpsConsole.Core.Purchases.IPurchaseService>()
            .PurchaseWithCreditsAsync(buyer, leads.Take(2).ToArray(), "probe-test", Ct);
        Assert.Equal(OpsConsole.Core.Purchases.PurchaseOutcome.Completed, purchase.Outcome);
        var runId = await StartAsync(Service);

        var result = await Service.RunProbesAsync(TestActors.Engineer2, runId, null, Ct);

        Assert.True(result.Succeeded, result.Refusal?.Message);
        Assert.All(result.Value!, p => Assert.True(p.Verdict.Passed, $"{p.ProbeKey}: {p.Verdict.Message}"));
        var run = await RunAsync(Service, runId);
        Assert.Equal(10, run.ProbesPassing);
        var functions = run.LatestProbeResults[run.Runbook.Probes[0].Key];
        Assert.Equal(["routine_name", "routine_type"], functions.Columns);
        Assert.Equal(4, functions.RowCount);
        Assert.Contains(functions.Rows, r => r[0] == "mark_leads_sold_bulk" && r[1] == "FUNCTION");
        Assert.Equal("engineer2", functions.RunBy);
        Assert.InRange(functions.DurationMs, 0.001m, 5000m);
        var recent = run.LatestProbeResults[run.Runbook.Probes[3].Key];
        Assert.Equal(1, recent.RowCount);
        Assert.Equal(purchase.PurchaseId.ToString(), recent.Rows[0][0]);
        Assert.Equal("completed", recent.Rows[0][1]);
        var success = run.LatestProbeResults[run.Runbook.Probes.Single(p => p.Expectation.Kind == ExpectationKind.ValueAtLeast).Key];
        Assert.Equal("success_rate_percent is 100: at least 98, as expected.", success.Message);
        var ran = Assert.Single(run.Timeline, e => e.Action == "probes.run");
        Assert.Equal("engineer2 ran 10 checks: 10 passed, 0 failed.", ran.Summary);
    }

    [Fact]
    public async Task Dropping_one_of_the_four_functions_fails_the_count_probe_and_its_latest_run_blocks_approval()
    {
        var runId = await StartAsync(Service);
        Assert.All((await Service.RunProbesAsync(TestActors.Engineer, runId, null, Ct)).Value!, p => Assert.True(p.Verdict.Passed, p.Verdict.Message));
        await using (var connection = await Db.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("DROP FUNCTION public.complete_stripe_lead_purchase(uuid, text, text)");
        }

        try
        {
            var result = (await Service.RunProbesAsync(TestActors.Engineer, runId, null, Ct)).Value!;

            var count = result[0];
            Assert.False(count.Verdict.Passed);
            Assert.Equal("Returned 3 rows; expected 4 rows.", count.Verdict.Message);
            Assert.True(result[1].Verdict.Passed);
            var approval = await RefusedAsync(Service.SignAsync(TestActors.Manager, runId, SignOffKind.Approved, Ct), RefusalKind.Rule);
            Assert.Contains("The four purchase functions exist (Returned 3 rows; expected 4 rows.)", approval.Message, StringComparison.Ordinal);
        }
        finally
        {
            await using var connection = await Db.OpenConnectionAsync();
            await connection.ExecuteAsync(DatabaseMigrator.ReadScript("0002_fix_payment_race_conditions.sql"));
        }

        var again = (await Service.RunProbesAsync(TestActors.Engineer, runId, null, Ct)).Value!;
        Assert.True(again[0].Verdict.Passed, again[0].Verdict.Message);
    }

    [Fact]
    public async Task Ticking_an_item_under_its_sections_failing_check_needs_a_reason_and_the_reason_is_on_the_record()
    {
        var workspace = (await MarketSeed.WorkspacesAsync(Db, 1, 100m))[0];
        var runId = await StartAsync(Service);
        var runbook = (await RunAsync(Service, runId)).Runbook;
        var item = runbook.Items.Single(i => i.Text.StartsWith("No credit discrepancy", StringComparison.Ordinal));
        var probe = runbook.Probes.Single(p => p.SectionKey == item.SectionKey);
        await using (var connection = await Db.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("UPDATE workspace_credits SET balance = balance + 18.25 WHERE workspace_id = @workspace", new { workspace });
        }

        try
        {
            Assert.False(Assert.Single((await Service.RunProbesAsync(TestActors.Engineer, runId, probe.Key, Ct)).Value!).Verdict.Passed);
            var before = await FootprintAsync(Db, runId);

            var refused = await RefusedAsync(Service.SetItemAsync(TestActors.Engineer, runId, item.Key, ItemState.Checked, null, null, Ct), RefusalKind.Rule);
            Assert.Contains("failed on its latest run", refused.Message, StringComparison.Ordinal);
            Assert.Contains("needs a reason", refused.Message, StringComparison.Ordinal);
            Assert.Equal(before, await FootprintAsync(Db, runId));

            await SucceedsAsync(Service.SetItemAsync(TestActors.Engineer, runId, item.Key, ItemState.Checked, "Known drift of workspace 10, ticket OPS-4512", null, Ct));
            var run = await RunAsync(Service, runId);
            Assert.Equal((ItemState.Checked, "Known drift of workspace 10, ticket OPS-4512"), (run.ItemStates[item.Key].State, run.ItemStates[item.Key].Reason));
            Assert.Contains(run.Timeline, e => e.Action == "item.checked" && e.Summary.Contains("ticket OPS-4512", StringComparison.Ordinal));
        }
        finally
        {
            await using var connection = await Db.OpenConnectionAsync();
            await connection.ExecuteAsync("UPDATE workspace_credits SET balance = balance - 18.25 WHERE workspace_id = @workspace", new { workspace });
        }
    }

    [Fact]
    public async Task A_missing_grant_fails_the_permission_probe_naming_the_function()
    {
        var runId = await StartAsync(Service);
        await using var connection = await Db.OpenConnectionAsync();
        await connection.ExecuteAsync("REVOKE EXECUTE ON FUNCTION public.mark_leads_sold_bulk(uuid, uuid[]) FROM service_role");
        try
        {
            var probe = (await RunAsync(Service, runId)).Runbook.Probes[2];
            var result = (await Service.RunProbesAsync(TestActors.Engineer, runId, probe.Key, Ct)).Value!;

            var verdict = Assert.Single(result).Verdict;
            Assert.False(verdict.Passed);
            Assert.Equal("service_role lacks EXECUTE on mark_leads_sold_bulk.", verdict.Message);
        }
        finally
        {
            await connection.ExecuteAsync("GRANT EXECUTE ON FUNCTION public.mark_leads_sold_bulk(uuid, uuid[]) TO service_role");
        }
    }

    [Fact]
    public async Task A_seller_with_earnings_passes_the_full_formula_that_the_guides_short_check_would_flag_and_real_drift_fails_it()
    {
        var runId = await StartAsync(Service);
        var creditProbe = (await RunAsync(Service, runId)).Runbook.Probes.First(p => p.Sql.Contains("FROM workspace_credits", StringComparison.Ordinal));
        await using var connection = await Db.OpenConnectionAsync();
        var seller = (await MarketSeed.WorkspacesAsync(Db, 1, 0m))[0];
        await connection.ExecuteAsync(
            "UPDATE workspace_credits SET balance = 40, total_purchased = 0, total_earned = 50, total_used = 10 WHERE workspace_id = @Id", new { Id = seller });

        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM workspace_credits WHERE balance != (total_purchased - total_used)"));
        var honest = Assert.Single((await Service.RunProbesAsync(TestActors.Engineer, runId, creditProbe.Key, Ct)).Value!);
        Assert.True(honest.Verdict.Passed, honest.Verdict.Message);

        var drifted = (await MarketSeed.WorkspacesAsync(Db, 1, 20m))[0];
        await connection.ExecuteAsync("UPDATE workspace_credits SET balance = balance - 7.5 WHERE workspace_id = @Id", new { Id = drifted });
        try
        {
            var failed = Assert.Single((await Service.RunProbesAsync(TestActors.Engineer, runId, creditProbe.Key, Ct)).Value!);
            Assert.False(failed.Verdict.Passed);
            Assert.Equal("Returned 1 row; expected 0 rows.", failed.Verdict.Message);
            Assert.Equal(drifted, failed.Output.Rows[0][0]);
            Assert.Equal(-7.5m, failed.Output.Rows[0][6]);
        }
        finally
        {
            await connection.ExecuteAsync("UPDATE workspace_credits SET balance = balance + 7.5 WHERE workspace_id = @Id", new { Id = drifted });
        }
    }

    [Fact]
    public async Task A_probe_cannot_write_even_through_a_function_and_nothing_it_tried_remains()
    {
        var runner = _services.GetRequiredService<ProbeRunner>();
        var probe = new Probe("t/write", "Sneaky write", "WITH gone AS (DELETE FROM workspaces RETURNING id) SELECT count(*) FROM gone", ProbeExpectation.None, SectionRole.None, "t");
        await MarketSeed.WorkspacesAsync(Db, 1, 0m);
        await using var connection = await Db.OpenConnectionAsync();
        var before = await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM workspaces");

        var execution = await runner.RunAsync(probe, Ct);

        Assert.False(execution.Verdict.Passed);
        // A cursor takes no data-modifying WITH: the database refuses it before it runs (the read-only transaction would too).
        Assert.StartsWith("Failed: 0A000", execution.Verdict.Message, StringComparison.Ordinal);
        Assert.Equal(before, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM workspaces"));
    }

    [Fact]
    public async Task A_slow_probe_is_stopped_by_its_statement_timeout_and_reported_as_a_failure()
    {
        // Only here is a short timeout the point: elsewhere a probe slowed by a loaded machine must still pass.
        await using var impatient = Services(database.ConnectionString, settings: new Dictionary<string, string?> { ["Deployments:ProbeTimeout"] = "00:00:00.300" });
        var runner = impatient.GetRequiredService<ProbeRunner>();
        var probe = new Probe("t/slow", "Slow", "SELECT pg_sleep(30)", ProbeExpectation.None, SectionRole.None, "t");

        var execution = await runner.RunAsync(probe, Ct);

        Assert.False(execution.Verdict.Passed);
        Assert.Equal("Timed out after 0.3 s (statement_timeout).", execution.Verdict.Message);
        Assert.InRange(execution.Duration, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Only_the_first_rows_are_kept_as_evidence_but_all_are_counted()
    {
        await using var services = Services(database.ConnectionString, settings: new Dictionary<string, string?> { ["Deployments:MaxStoredRows"] = "3" });
        var probe = new Probe("t/many", "Many", "SELECT g AS n FROM generate_series(1, 10) AS g\n-- Should return 10 rows", ProbeExpectation.TryParse("Should return 10 rows")!, SectionRole.None, "t");

        var execution = await services.GetRequiredService<ProbeRunner>().RunAsync(probe, Ct);

        Assert.True(execution.Verdict.Passed, execution.Verdict.Message);
        Assert.Equal(10, execution.Output.RowCount);
        Assert.Equal(3, execution.Output.Rows.Count);
    }

    [Fact]
    public async Task A_probe_returning_huge_values_keeps_at_most_the_cap_and_its_message_says_what_was_cut()
    {
        await using var services = Services(database.ConnectionString, settings: new Dictionary<string, string?>
        {
            ["Deployments:MaxStoredChars"] = "10000",
            ["Deployments:MaxStoredValueChars"] = "1000",
        });
        var probe = new Probe("t/huge", "Huge", "SELECT g AS n, repeat('x', 1000000) AS blob FROM generate_series(1, 50) AS g\n-- Should return 50 rows",
            ProbeExpectation.TryParse("Should return 50 rows")!, SectionRole.None, "t");

        var execution = await services.GetRequiredService<ProbeRunner>().RunAsync(probe, Ct);

        Assert.True(execution.Verdict.Passed, execution.Verdict.Message);
        Assert.Equal(50, execution.Output.RowCount);
        Assert.InRange(execution.Output.Rows.Count, 1, 9);
        Assert.All(execution.Output.Rows, row => Assert.StartsWith(new string('x', 1000) + "… [cut: 1,000,000 characters]", (string)row[1]!));
        // What the store writes as the evidence's rows stays near the cap (JSON quoting and separators aside).
        Assert.InRange(System.Text.Json.JsonSerializer.Serialize(execution.Output.Rows).Length, 1, 10000 + 1000);
        Assert.Contains($"Evidence cut: {execution.Output.Rows.Count} of 50 rows kept, {execution.Output.Rows.Count} values cut to 1,000 characters", execution.Verdict.Message);
    }

    [Fact]
    public async Task A_probe_returning_many_rows_keeps_the_first_ones_and_says_how_many_of_how_many()
    {
        await using var services = Services(database.ConnectionString);
        var probe = new Probe("t/rows", "Rows", "SELECT g AS n FROM generate_series(1, 100000) AS g", ProbeExpectation.None, SectionRole.None, "t");

        var execution = await services.GetRequiredService<ProbeRunner>().RunAsync(probe, Ct);

        Assert.Equal(100_000, execution.Output.RowCount);
        Assert.Equal(100, execution.Output.Rows.Count);
        Assert.Contains("Evidence cut: 100 of 100,000 rows kept", execution.Verdict.Message);
    }
}
