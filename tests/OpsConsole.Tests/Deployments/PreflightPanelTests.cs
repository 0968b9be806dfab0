using Bunit;
using OpsConsole.Components.Pages.Deployments;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Deployments;

/// <summary>The pre-flight panel over the real runner, reading a drop-in target (the drill panel's staging fixture) through the checks' connection.</summary>
public sealed class PreflightPanelTests(MarketplaceDatabase database, DrillTargetDatabase target)
    : ConsoleBunitContext, IClassFixture<MarketplaceDatabase>, IClassFixture<DrillTargetDatabase>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    protected override Task ConfigureAsync()
    {
        Services.AddOpsConsoleCoreFor(database.SuperuserConnectionString, new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{ProbeDataSource.ConnectionStringName}"] = target.Target.ConnectionString,
        });
        return Task.CompletedTask;
    }

    [Fact]
    public async Task An_engineer_reads_the_drop_in_its_numeric_credits_and_what_the_rollback_will_do()
    {
        SignInAs("erin", "engineer");
        var panel = Render<PreflightPanel>();

        await panel.FindAndClickAsync("[data-testid=preflight-run]");

        await panel.WaitForAssertionAsync(() => Assert.Equal("DropIn", panel.Find("[data-testid=preflight-report]").GetAttribute("data-fix")), Deadline);
        Assert.Contains("our drop-in (body hashes match)", panel.Find("[data-testid=preflight-fix]").TextContent);
        Assert.Equal("numeric(14,4)", panel.Find("[data-testid=preflight-column][data-column='workspace_credits.balance']").GetAttribute("data-type"));
        Assert.Equal("uuid", panel.Find("[data-testid=preflight-column][data-column='leads.reserved_for_workspace_id']").GetAttribute("data-type"));
        Assert.Empty(panel.FindAll("[data-testid=preflight-change]"));
        var rollback = panel.FindAll("[data-testid=preflight-rollback-change]");
        Assert.Contains(rollback, c => c.GetAttribute("data-kind") == "DropColumn" && c.GetAttribute("data-target") == "leads.reserved_until");
        Assert.Contains(rollback, c => c.GetAttribute("data-kind") == "ConvertColumn" && c.GetAttribute("data-target") == "workspace_credits.balance");
        Assert.Contains("Fractions round", panel.Find("[data-testid=preflight-fractions]").TextContent);
    }

    [Fact]
    public async Task Support_is_refused_on_the_server_and_nothing_is_read()
    {
        SignInAs("sam", "support");
        var panel = Render<PreflightPanel>();

        await panel.FindAndClickAsync("[data-testid=preflight-run]");

        await panel.WaitForAssertionAsync(() => Assert.Equal("Forbidden", panel.Find("[data-testid=refusal]").GetAttribute("data-refusal-kind")), Deadline);
        Assert.Empty(panel.FindAll("[data-testid=preflight-report]"));
    }
}
