using OpsConsole.Core.Actions;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Deployments;

/// <summary>Runs brought to a given state through the service, as the console's users would.</summary>
internal static class DeploymentScenario
{
    public static OpsActor Engineer => TestActors.Engineer;
    public static OpsActor Engineer2 => TestActors.Engineer2;
    public static OpsActor Manager => TestActors.Manager;

    public static async Task<long> StartAsync(IDeploymentService service, OpsActor? by = null)
    {
        var started = await service.StartRunAsync(by ?? Engineer, RunbookCatalog.RaceConditionFixes, null, CancellationToken.None);
        Assert.True(started.Succeeded, started.Refusal?.Message);
        return started.Value;
    }

    public static async Task<DeploymentRun> LoadAsync(IDeploymentService service, long runId) =>
        (await service.GetRunAsync(Engineer, runId, CancellationToken.None)).Value!;

    /// <summary>Final checklist done, checks run, deployed by engineer and verified by engineer2.</summary>
    public static async Task ReadyForApprovalAsync(IDeploymentService service, long runId)
    {
        var run = await LoadAsync(service, runId);
        foreach (var item in run.Runbook.ItemsOf(SectionRole.FinalChecklist))
        {
            Ok(await service.SetItemAsync(Engineer, runId, item.Key, ItemState.Checked, null, null, CancellationToken.None));
        }

        var probes = await service.RunProbesAsync(Engineer, runId, null, CancellationToken.None);
        Assert.All(probes.Value!, p => Assert.True(p.Verdict.Passed, p.Verdict.Message));
        Ok(await service.SignAsync(Engineer, runId, SignOffKind.Deployed, CancellationToken.None));
        Ok(await service.SignAsync(Engineer2, runId, SignOffKind.Verified, CancellationToken.None));
    }

    public static async Task CompleteAsync(IDeploymentService service, long runId)
    {
        await ReadyForApprovalAsync(service, runId);
        Ok(await service.SignAsync(Manager, runId, SignOffKind.Approved, CancellationToken.None));
    }

    private static void Ok(OpsResult result) => Assert.True(result.Succeeded, result.Refusal?.Message);
}
