using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Locks;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Locks;

/// <summary>The demo's slow checkout: the tree it makes on /locks, and a terminate that lets the queued buyer buy.</summary>
public sealed class SlowCheckoutDemoTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task A_slow_checkout_shows_a_tree_on_its_lead_and_terminating_it_lets_the_first_queued_buyer_buy_the_lead()
    {
        var (seller, slowBuyer, leads) = await LockKit.MarketAsync(database.DataSource, leads: 1);
        var (_, firstQueued, _) = await LockKit.MarketAsync(database.DataSource, leads: 0);
        var (_, secondQueued, _) = await LockKit.MarketAsync(database.DataSource, leads: 0);
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Marketplace"] = database.SuperuserConnectionString }).Build();
        var demo = new SlowCheckoutDemo(
            configuration, new DemoMarket(database.DataSource), TimeProvider.System, NullLogger<SlowCheckoutDemo>.Instance);

        var running = demo.RunAsync(new SlowCheckoutPlan(leads[0], slowBuyer, [firstQueued, secondQueued], TimeSpan.FromSeconds(60)), CancellationToken.None);
        var snapshot = await LockKit.SnapshotWhenAsync(services.GetRequiredService<LockSnapshotQuery>(), s => s.Summary.WaitingSessions == 2);

        var tree = Assert.Single(snapshot.Tree.Trees);
        var root = snapshot.ByPid[tree.Root.Pid];
        Assert.Equal(SlowCheckoutDemo.SlowCheckoutApplication, root.Application);
        var first = Assert.Single(tree.Root.Waiters);
        Assert.Equal(("lead", leads[0], seller), (snapshot.Rows[first.Pid].Kind, snapshot.Rows[first.Pid].RowId, snapshot.Rows[first.Pid].OwnerId));
        Assert.Equal(BlockingEdge.QueuedBehind, Assert.Single(first.Waiters).Edge);
        // The overview's lock card: two waiting, the root to link to, the lead named.
        var card = Core.Overview.OverviewService.Summarize(snapshot, new LockOptions());
        Assert.Equal((2, root.Pid, SlowCheckoutDemo.SlowCheckoutApplication), (card.Waiting, card.RootPid, card.RootApplication));
        Assert.Contains(leads[0].ToString(), card.Row, StringComparison.Ordinal);

        var terminated = await services.GetRequiredService<BackendActions>()
            .TerminateAsync(TestActors.Engineer, new BackendRef(root.Pid, root.BackendStart), "practising", CancellationToken.None);
        Assert.True(terminated.Succeeded, terminated.Refusal?.Message);

        var outcome = await running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("terminated", outcome.SlowCheckout);
        Assert.NotNull(outcome.QueuedPurchases[0]);
        Assert.Null(outcome.QueuedPurchases[1]);
    }
}
