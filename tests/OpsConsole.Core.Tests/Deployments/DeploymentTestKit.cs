using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Deployments;

/// <summary>The demo accounts as actors, with the permissions the shell's policies give their roles.</summary>
internal static class Actors
{
    private const DeploymentPermissions Signer = DeploymentPermissions.View | DeploymentPermissions.SignOff;
    private const DeploymentPermissions Approver = Signer | DeploymentPermissions.Approve;

    public static DeploymentActor Engineer { get; } = new("engineer", Signer);
    public static DeploymentActor Engineer2 { get; } = new("engineer2", Signer);
    public static DeploymentActor Manager { get; } = new("manager", Approver);
    public static DeploymentActor Admin { get; } = new("admin", Approver);
    public static DeploymentActor Support { get; } = new("support", DeploymentPermissions.View);
}

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

    public static async Task<long> StartAsync(IDeploymentService service, DeploymentActor? actor = null, string template = RunbookCatalog.RaceConditionFixes)
    {
        var started = await service.StartRunAsync(actor ?? Actors.Engineer, template, null, Ct);
        Assert.True(started.Succeeded, started.Refusal?.Message);
        return started.Value;
    }

    public static async Task<DeploymentRun> RunAsync(IDeploymentService service, long runId)
    {
        var run = await service.GetRunAsync(Actors.Support, runId, Ct);
        Assert.True(run.Succeeded, run.Refusal?.Message);
        return run.Value!;
    }

    public static async Task SucceedsAsync(Task<DeploymentResult> call)
    {
        var result = await call;
        Assert.True(result.Succeeded, result.Refusal?.Message);
    }

    public static async Task<DeploymentRefusal> RefusedAsync(Task<DeploymentResult> call, RefusalReason reason)
    {
        var result = await call;
        Assert.False(result.Succeeded, "Expected a refusal.");
        Assert.Equal(reason, result.Refusal!.Reason);
        return result.Refusal;
    }

    /// <summary>Ticks every item of the sections with <paramref name="role"/>.</summary>
    public static async Task TickAllAsync(IDeploymentService service, long runId, SectionRole role, DeploymentActor? actor = null)
    {
        var run = await RunAsync(service, runId);
        foreach (var item in run.Runbook.ItemsOf(role))
        {
            await SucceedsAsync(service.SetItemAsync(actor ?? Actors.Engineer, runId, item.Key, ItemState.Checked, null, null, Ct));
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
