using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Deployments;

internal static class DeploymentTestKit
{
    public static CancellationToken Ct => CancellationToken.None;

    /// <summary>The core services over the class's database, listener off unless asked for.</summary>
    public static ServiceProvider Services(string connectionString, bool listen = false, IDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?> { ["Deployments:ListenForChanges"] = listen ? "true" : "false" };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return TestServices.Build(connectionString, all);
    }

    public static async Task<long> StartAsync(IDeploymentService service, OpsActor? actor = null, string template = RunbookCatalog.RaceConditionFixes)
    {
        var started = await service.StartRunAsync(actor ?? TestActors.Engineer, template, null, Ct);
        Assert.True(started.Succeeded, started.Refusal?.Message);
        return started.Value;
    }

    public static async Task<DeploymentRun> RunAsync(IDeploymentService service, long runId)
    {
        var run = await service.GetRunAsync(TestActors.Support, runId, Ct);
        Assert.True(run.Succeeded, run.Refusal?.Message);
        return run.Value;
    }

    public static async Task SucceedsAsync(Task<OpsResult> call)
    {
        var result = await call;
        Assert.True(result.Succeeded, result.Refusal?.Message);
    }

    public static async Task<Refusal> RefusedAsync(Task<OpsResult> call, RefusalKind kind)
    {
        var result = await call;
        Assert.False(result.Succeeded, "Expected a refusal.");
        Assert.Equal(kind, result.Refusal!.Kind);
        return result.Refusal;
    }

    /// <summary>Ticks every item of the sections with <paramref name="role"/>.</summary>
    public static async Task TickAllAsync(IDeploymentService service, long runId, SectionRole role, OpsActor? actor = null)
    {
        var run = await RunAsync(service, runId);
        foreach (var item in run.Runbook.ItemsOf(role))
        {
            await SucceedsAsync(service.SetItemAsync(actor ?? TestActors.Engineer, runId, item.Key, ItemState.Checked, null, null, Ct));
        }
    }

    /// <summary>Counts of the run's rows, to prove a refused request changed nothing.</summary>
    public static async Task<(int Items, int Contacts, int Probes, int Notes, int Events, string Status)> FootprintAsync(NpgsqlDataSource db, long runId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.QuerySingleAsync<(int, int, int, int, int, string)>("""
            SELECT (SELECT count(*)::int FROM ops.deployment_item_states WHERE run_id = @Id),
                   (SELECT count(*)::int FROM ops.deployment_contacts WHERE run_id = @Id),
                   (SELECT count(*)::int FROM ops.deployment_probe_results WHERE run_id = @Id),
                   (SELECT count(*)::int FROM ops.deployment_notes WHERE run_id = @Id),
                   (SELECT count(*)::int FROM ops.deployment_events WHERE run_id = @Id),
                   (SELECT status FROM ops.deployment_runs WHERE id = @Id)
            """, new { Id = runId });
    }
}
