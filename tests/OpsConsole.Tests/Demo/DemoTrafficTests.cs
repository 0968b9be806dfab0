using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Demo;

public sealed class DemoTrafficTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Demo_traffic_buys_leads_and_meets_conflicts_and_insufficient_credits_without_breaking_invariants()
    {
        await using var services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?>
        {
            // The seed and restock write as the owner, as the console's demo does.
            ["ConnectionStrings:MarketplaceMigrations"] = database.SuperuserConnectionString,
            ["Demo:Enabled"] = "true",
            ["Demo:Buyers"] = "6",
            ["Demo:PurchasesPerSecond"] = "30",
            ["Demo:HotLeads"] = "16",
            ["Demo:LeadCount"] = "500",
            ["Demo:RestockBelow"] = "100",
        });
        await services.GetRequiredService<DemoSeeder>().SeedAsync(500, CancellationToken.None);
        var stats = services.GetRequiredService<DemoTrafficStats>();
        var traffic = services.GetServices<IHostedService>().OfType<DemoTrafficService>().Single();

        await traffic.StartAsync(CancellationToken.None);
        var seen = await WaitForOutcomesAsync(stats, [PurchaseOutcome.Completed, PurchaseOutcome.Conflict, PurchaseOutcome.InsufficientCredits]);
        await traffic.StopAsync(CancellationToken.None);

        Assert.True(seen, $"Within {Deadline.TotalSeconds} s the traffic only produced: {Describe(stats)}");
        Assert.Equal(0, stats.Snapshot().Errors);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var violations = await MarketplaceInvariants.FindViolationsAsync(connection, CancellationToken.None);
        // Only the drift the seed planted on purpose, untouched and not worsened into negative balances: three
        // balances off the formula, and the 42.00 of earnings missing from total_earned in the credit totals.
        Assert.Equal([2, 2, 2, 4], violations.Select(v => v.Invariant));
        // The drifted workspaces neither buy nor sell, so a support person fixing one is not overtaken by the traffic.
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("""
            SELECT count(*) FROM marketplace_purchases AS p
            WHERE p.created_at > now() - interval '1 hour'
              AND (p.buyer_workspace_id = ANY (@Drifted)
                   OR EXISTS (SELECT 1 FROM marketplace_purchase_items AS i JOIN leads AS l ON l.id = i.lead_id
                              WHERE i.purchase_id = p.id AND l.workspace_id = ANY (@Drifted)))
            """, new { Drifted = DemoSeeder.DriftedWorkspaces.ToArray() }));
    }

    [Fact]
    public async Task Demo_traffic_stays_off_unless_its_options_enable_it()
    {
        await using var services = TestServices.Build(database.ConnectionString);
        var traffic = services.GetServices<IHostedService>().OfType<DemoTrafficService>().Single();

        await traffic.StartAsync(CancellationToken.None);
        await traffic.ExecuteTask!.WaitAsync(Deadline);
        await traffic.StopAsync(CancellationToken.None);

        var stats = services.GetRequiredService<DemoTrafficStats>().Snapshot();
        Assert.All(stats.Outcomes, o => Assert.Equal(0, o.Count));
        Assert.Equal(0, stats.Errors);
    }

    private static async Task<bool> WaitForOutcomesAsync(DemoTrafficStats stats, PurchaseOutcome[] wanted)
    {
        var seen = new TaskCompletionSource();
        void Check()
        {
            var outcomes = stats.Snapshot().Outcomes.Select(o => o.Outcome).ToHashSet();
            if (wanted.All(outcomes.Contains))
            {
                seen.TrySetResult();
            }
        }

        stats.Changed += Check;
        try
        {
            Check();
            await seen.Task.WaitAsync(Deadline);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        finally
        {
            stats.Changed -= Check;
        }
    }

    private static string Describe(DemoTrafficStats stats) =>
        string.Join(", ", stats.Snapshot().Outcomes.Select(o => $"{o.Outcome} {o.Count}"));
}
