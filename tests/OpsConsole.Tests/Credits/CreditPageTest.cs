using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Credits;
using OpsConsole.Core.Demo;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Credits;

/// <summary>
/// bUnit base of /credits: the core services over the class's migrated database, demo data seeded. bUnit starts no
/// hosted service: live changes are published to the hub by the tests.
/// </summary>
public abstract class CreditPageTest(MarketplaceDatabase database) : ConsoleBunitContext
{
    protected CreditService Service => Services.GetRequiredService<CreditService>();

    protected NpgsqlDataSource DataSource => database.DataSource;

    protected override async Task ConfigureAsync()
    {
        Services.AddOpsConsoleCoreFor(database.ConnectionString, new Dictionary<string, string?>
        {
            ["Deployments:ListenForChanges"] = "false",
            ["Credits:ListenForChanges"] = "false",
        });
        await new DemoSeeder(database.DataSource).SeedAsync(20, CancellationToken.None);
    }

    /// <summary>Signs in as <paramref name="userName"/> with <paramref name="role"/>; returns the actor the page will act as.</summary>
    protected OpsActor SignIn(string userName, string role)
    {
        SignInAs(userName, role);
        return TestActors.For(userName, role);
    }

    protected Task<Guid> WorkspaceAsync(decimal balance, decimal purchased) => CreditRows.WorkspaceAsync(DataSource, balance, purchased);

    protected Task<decimal> BalanceAsync(Guid workspace) => CreditRows.BalanceAsync(DataSource, workspace);

    protected async Task<long> JournalRowsAsync()
    {
        var (adjustments, events, _) = await CreditRows.WrittenAsync(DataSource);
        return adjustments + events;
    }

    protected static Task Eventually(IRenderedComponent<global::OpsConsole.Components.Pages.Credits.CreditsPage> cut, Action assertion) =>
        cut.WaitForAssertionAsync(assertion, TimeSpan.FromSeconds(30));
}
