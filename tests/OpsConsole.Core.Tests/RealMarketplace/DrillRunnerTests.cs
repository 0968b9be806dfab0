using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Purchases.Drill;
using OpsConsole.Testing;
using OpsConsole.Testing.RealMarketplace;

namespace OpsConsole.Core.Tests.RealMarketplace;

/// <summary>The drill as the console offers it: engineers only, on the configured staging target, one at a time.</summary>
public sealed class DrillRunnerTests
{
    private static readonly CancellationToken Ct = new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;
    private static readonly DrillParameters Small = new(Buyers: 4, Leads: 3, Rounds: 2);

    [Fact]
    public async Task An_engineer_runs_the_drill_on_the_configured_staging_target_and_a_second_run_meanwhile_is_refused()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.DropIn, Ct);
        await using var runner = Runner(db.ConnectionString, new NpgsqlConnectionStringBuilder(db.ConnectionString).Database!);
        Task<OpsResult<DrillReport>>? second = null;
        var progress = new Callback(p =>
        {
            if (p.Round == 1)
            {
                second ??= runner.RunAsync(TestActors.Engineer2, Small, null, Ct);
            }
        });

        var first = await runner.RunAsync(TestActors.Engineer, Small, progress, Ct);

        Assert.True(first.Succeeded, first.Refusal?.Message);
        Assert.True(first.Value.Clean);
        Assert.Equal(Small, first.Value.Parameters);
        Assert.NotNull(second);
        var refused = await second;
        Assert.Equal(RefusalKind.Conflict, refused.Refusal?.Kind);
        Assert.Contains("already running", refused.Refusal!.Message, StringComparison.Ordinal);
        Assert.True((await runner.RunAsync(TestActors.Engineer2, Small, null, Ct)).Succeeded, "the runner stayed busy after the first drill");
    }

    [Fact]
    public async Task Support_may_not_run_or_clean_up_a_drill()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.DropIn, Ct);
        await using var runner = Runner(db.ConnectionString, new NpgsqlConnectionStringBuilder(db.ConnectionString).Database!);

        Assert.Equal(RefusalKind.Forbidden, (await runner.RunAsync(TestActors.Support, Small, null, Ct)).Refusal?.Kind);
        Assert.Equal(RefusalKind.Forbidden, (await runner.CleanupAsync(TestActors.Support, null, Ct)).Refusal?.Kind);
        Assert.Equal(0, (await runner.CleanupAsync(TestActors.Engineer, null, Ct)).Value);
    }

    [Fact]
    public async Task Without_a_drill_connection_string_the_runner_says_what_to_set()
    {
        await using var runner = Runner(connectionString: null, allowed: "staging");

        var run = await runner.RunAsync(TestActors.Engineer, Small, null, Ct);

        Assert.False(runner.HasTarget);
        Assert.Equal(RefusalKind.Rule, run.Refusal?.Kind);
        Assert.Contains("ConnectionStrings:MarketplaceDrill", run.Refusal!.Message, StringComparison.Ordinal);
    }

    private static DrillRunner Runner(string? connectionString, string allowed) =>
        new(connectionString, Options.Create(new DrillOptions { AllowedDatabases = [allowed] }), NullLogger<DrillRunner>.Instance);

    private sealed class Callback(Action<DrillProgress> onReport) : IProgress<DrillProgress>
    {
        public void Report(DrillProgress value) => onReport(value);
    }
}
