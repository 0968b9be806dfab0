using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Components.Pages.Deployments;
using OpsConsole.Core;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Deployments;

// One collection: these classes run one after another, so their database and browser work does not
// starve the rest of the suite (bUnit's 1 s waits elsewhere failed under their combined load).
[Collection(DeploymentTests.Collection)]
public sealed class DeploymentsPageTests(MarketplaceDatabase database) : DeploymentPageTest(database), IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task The_list_shows_each_run_with_status_progress_who_started_it_and_when()
    {
        var runId = await DeploymentScenario.StartAsync(Service, DeploymentScenario.Engineer2);
        var runbook = (await DeploymentScenario.LoadAsync(Service, runId)).Runbook;
        var item = runbook.Items[0];
        await Service.SetItemAsync(DeploymentScenario.Engineer2, runId, item.Key, ItemState.Checked, null, null, CancellationToken.None);
        SignInAs("support", OpsRoles.Support);

        var cut = Render<DeploymentsPage>();

        await Eventually(cut, () =>
        {
            var row = cut.FindAll("[data-testid=runs] tbody tr").Single(r => r.QuerySelector($"[data-testid=object-id][data-id='{runId}']") is not null);
            Assert.Equal($"#{runId}", row.QuerySelector("[data-testid=object-id-text]")!.TextContent);
            Assert.Contains("INCOMPLETE", row.TextContent, StringComparison.Ordinal);
            Assert.Contains($"1 / {runbook.Items.Count} items, 0 / 10 checks passing", row.TextContent, StringComparison.Ordinal);
            Assert.Contains("engineer2", row.TextContent, StringComparison.Ordinal);
            Assert.Matches(@"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", row.TextContent);
        });
    }

    [Fact]
    public async Task Support_is_refused_starting_a_run()
    {
        SignInAs("support", OpsRoles.Support);
        var cut = Render<DeploymentsPage>();

        await ElementOf(cut, "[data-testid=start-run]");
        await cut.FindAndClickAsync("[data-testid=start-run]");

        await Eventually(cut, () => Assert.Contains("not allowed to sign off deployments", cut.Find("[data-testid=refusal]").TextContent, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_engineer_starts_a_run_from_the_shipped_runbook_and_lands_on_it()
    {
        SignInAs("engineer", OpsRoles.Engineer);
        var cut = Render<DeploymentsPage>();
        var before = (await Service.ListRunsAsync(DeploymentScenario.Engineer, CancellationToken.None)).Value!.Count;

        await ElementOf(cut, "[data-testid=start-run]");
        await cut.FindAndClickAsync("[data-testid=start-run]");

        var navigation = Services.GetRequiredService<NavigationManager>();
        await Eventually(cut, () => Assert.Matches(@"/deployments/\d+$", navigation.Uri));
        var runs = (await Service.ListRunsAsync(DeploymentScenario.Engineer, CancellationToken.None)).Value!;
        Assert.Equal(before + 1, runs.Count);
        Assert.EndsWith($"/deployments/{runs[0].Id}", navigation.Uri, StringComparison.Ordinal);
        Assert.Equal("engineer", runs[0].StartedBy);
    }

    // Generous deadlines: each assertion waits on the database, and the machine is shared.
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static Task Eventually<T>(IRenderedComponent<T> cut, Action assertion) where T : Microsoft.AspNetCore.Components.IComponent =>
        cut.WaitForAssertionAsync(assertion, Wait);

    private static Task<AngleSharp.Dom.IElement> ElementOf<T>(IRenderedComponent<T> cut, string selector) where T : Microsoft.AspNetCore.Components.IComponent =>
        cut.WaitForElementAsync(selector, Wait);
}
