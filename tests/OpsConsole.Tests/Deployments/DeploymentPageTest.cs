using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Deployments;

/// <summary>
/// bUnit base of the deployment pages: the core services over the class's own migrated database. bUnit starts
/// no hosted service, so the LISTEN/NOTIFY listener is off and live changes are published to the hub by the tests.
/// </summary>
public abstract class DeploymentPageTest(MarketplaceDatabase database) : ConsoleBunitContext
{
    protected IDeploymentService Service => Services.GetRequiredService<IDeploymentService>();

    protected override Task ConfigureAsync()
    {
        Services.AddOpsConsoleCoreFor(database.ConnectionString, new Dictionary<string, string?> { ["Deployments:ListenForChanges"] = "false" });
        return Task.CompletedTask;
    }
}
