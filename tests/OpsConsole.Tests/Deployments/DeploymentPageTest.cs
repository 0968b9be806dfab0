using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core;
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
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Marketplace"] = database.ConnectionString,
            ["ConnectionStrings:MarketplaceProbe"] = database.ProbeConnectionString,
            ["Deployments:ListenForChanges"] = "false",
        }).Build();
        Services.AddLogging();
        Services.AddOpsConsoleCore(configuration);
        return Task.CompletedTask;
    }
}
