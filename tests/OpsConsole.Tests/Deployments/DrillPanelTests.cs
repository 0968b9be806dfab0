using System.Text.RegularExpressions;
using Bunit;
using Npgsql;
using OpsConsole.Components.Pages.Deployments;
using OpsConsole.Core.Purchases.Drill;
using OpsConsole.Testing;
using OpsConsole.Testing.RealMarketplace;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Deployments;

/// <summary>A staging marketplace (the drop-in on the marketplace's schema) for the drill panel to run on.</summary>
public sealed class DrillTargetDatabase : IAsyncLifetime
{
    /// <summary>The target.</summary>
    public RealMarketplaceDatabase Target { get; private set; } = null!;

    /// <summary>Its database name, as <c>Drill:AllowedDatabases</c> lists it.</summary>
    public string Name => new NpgsqlConnectionStringBuilder(Target.ConnectionString).Database!;

    public async Task InitializeAsync() => Target = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.DropIn, CancellationToken.None);

    public async Task DisposeAsync() => await Target.DisposeAsync();
}

/// <summary>The drill panel over the real runner and a real staging target: who may run it, and what it shows.</summary>
public sealed class DrillPanelTests(MarketplaceDatabase database, DrillTargetDatabase target)
    : ConsoleBunitContext, IClassFixture<MarketplaceDatabase>, IClassFixture<DrillTargetDatabase>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    protected override Task ConfigureAsync()
    {
        Services.AddOpsConsoleCoreFor(database.SuperuserConnectionString, new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{DrillRunner.ConnectionStringName}"] = target.Target.ConnectionString,
            ["Drill:AllowedDatabases:0"] = target.Name,
        });
        return Task.CompletedTask;
    }

    [Fact]
    public async Task An_engineer_runs_the_drill_and_reads_a_clean_report_with_its_parameters()
    {
        SignInAs("erin", "engineer");
        var panel = Render<DrillPanel>();

        await panel.FindAndInputAsync("input[data-testid=drill-rounds]", "2");
        await panel.FindAndClickAsync("[data-testid=drill-run]");

        await panel.WaitForAssertionAsync(() => Assert.Equal("true", panel.Find("[data-testid=drill-report]").GetAttribute("data-clean")), Deadline);
        var findings = panel.FindAll("[data-testid=drill-finding]");
        Assert.Equal(Enum.GetNames<DrillFailure>(), findings.Select(f => f.GetAttribute("data-failure")!));
        Assert.All(findings, f => Assert.Equal("0", f.GetAttribute("data-count")));
        var verdict = Regex.Replace(panel.Find("[data-testid=drill-verdict]").TextContent, @"\s+", " ");
        Assert.Contains($"No failure found on {target.Name}", verdict);
        Assert.Contains("2 rounds", verdict);
        Assert.Contains("2 late card payments (2 refund_required)", verdict);
        Assert.NotNull(panel.Find("[data-testid=drill-run]"));
    }

    [Fact]
    public async Task Support_is_refused_on_the_server_and_nothing_runs()
    {
        SignInAs("sam", "support");
        var panel = Render<DrillPanel>();

        await panel.FindAndClickAsync("[data-testid=drill-run]");

        await panel.WaitForAssertionAsync(() => Assert.Equal("Forbidden", panel.Find("[data-testid=refusal]").GetAttribute("data-refusal-kind")), Deadline);
        Assert.Empty(panel.FindAll("[data-testid=drill-report]"));
    }

    [Fact]
    public async Task Parameters_the_drill_cannot_run_are_refused_with_the_field_named()
    {
        SignInAs("erin", "engineer");
        var panel = Render<DrillPanel>();

        await panel.FindAndInputAsync("input[data-testid=drill-buyers]", "1");
        await panel.FindAndClickAsync("[data-testid=drill-run]");

        await panel.WaitForAssertionAsync(() => Assert.StartsWith("Buyers must be between 2 and 200", panel.Find("[data-testid=refusal]").TextContent.Trim()), Deadline);
        Assert.Equal("Invalid", panel.Find("[data-testid=refusal]").GetAttribute("data-refusal-kind"));
    }
}
