using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using static OpsConsole.Core.Tests.Deployments.DeploymentTestKit;

namespace OpsConsole.Core.Tests.Deployments;

public sealed class DemoSeedTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task The_demo_gets_one_open_run_however_many_instances_seed_at_once()
    {
        await using var services = Services(database.ConnectionString);
        var seed = services.GetRequiredService<DeploymentDemoSeed>();

        var ids = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => seed.EnsureOpenRunAsync(Ct))));

        Assert.Single(ids.Distinct());
        var service = services.GetRequiredService<IDeploymentService>();
        Assert.Single((await service.ListRunsAsync(TestActors.Support, Ct)).Value!);
        var run = await RunAsync(service, ids[0]);
        Assert.Equal(DeploymentStatus.Incomplete, run.Status);
        Assert.Equal(3, run.ItemsDone);
        Assert.Equal("engineer", run.ContactOf(run.Runbook.ContactFields[0]));
    }
}
