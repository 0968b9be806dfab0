using Bunit;
using OpsConsole.Components.Pages.Deployments;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using OpsConsole.Testing.RealMarketplace;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Deployments;

/// <summary>A marketplace with the shipped fix (psql-built) as the run's target: the checks' connection.</summary>
public sealed class ShippedTargetDatabase : IAsyncLifetime
{
    /// <summary>The target.</summary>
    public RealMarketplaceDatabase Target { get; private set; } = null!;

    public async Task InitializeAsync() => Target = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.Shipped, CancellationToken.None);

    public async Task DisposeAsync() => await Target.DisposeAsync();
}

/// <summary>The pre-flight panel over the real runner, reading a shipped-fix target through the checks' connection.</summary>
public sealed class PreflightPanelTests(MarketplaceDatabase database, ShippedTargetDatabase target)
    : ConsoleBunitContext, IClassFixture<MarketplaceDatabase>, IClassFixture<ShippedTargetDatabase>
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
    public async Task An_engineer_reads_the_shipped_fix_its_integer_credits_and_the_drop_ins_changes()
    {
        SignInAs("erin", "engineer");
        var panel = Render<PreflightPanel>();

        await panel.FindAndClickAsync("[data-testid=preflight-run]");

        await panel.WaitForAssertionAsync(() => Assert.Equal("Shipped", panel.Find("[data-testid=preflight-report]").GetAttribute("data-fix")), Deadline);
        Assert.Contains("shipped (by signature)", panel.Find("[data-testid=preflight-fix]").TextContent);
        Assert.Equal("integer", panel.Find("[data-testid=preflight-column][data-column='workspace_credits.balance']").GetAttribute("data-type"));
        Assert.Equal("", panel.Find("[data-testid=preflight-column][data-column='leads.reserved_until']").GetAttribute("data-type"));
        var changes = panel.FindAll("[data-testid=preflight-change]");
        Assert.Contains(changes, c => c.GetAttribute("data-kind") == "ConvertColumn" && c.GetAttribute("data-target") == "workspace_credits.balance");
        Assert.Contains(changes, c => c.GetAttribute("data-kind") == "ReplaceFunction" && c.GetAttribute("data-target")!.StartsWith("complete_credit_lead_purchase("));
        Assert.Empty(panel.FindAll("[data-testid=preflight-rollback]"));
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
