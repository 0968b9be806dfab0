using OpsConsole.Core.Actions;
using OpsConsole.Core.Credits;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Credits;

public sealed class ConcurrentAdjustmentTests(MarketplaceDatabase database) : CreditTestKit(database), IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task Twenty_concurrent_adjustments_made_from_one_version_apply_once_and_the_balance_agrees_with_the_journal()
    {
        var workspace = await WorkspaceAsync(100m, 100m);
        var version = await VersionAsync(workspace);
        using var start = new SemaphoreSlim(0);

        var attempts = Enumerable.Range(1, 20).Select(async n =>
        {
            await start.WaitAsync(Ct);
            var maker = Actor($"support{n}", "support");
            return await Service.AdjustAsync(maker, new AdjustmentRequest(workspace, version, new CreditDeltas(n, n, 0, 0), $"Concurrent top-up number {n}", null), Ct);
        }).ToList();
        start.Release(20);
        var results = await Task.WhenAll(attempts);

        var applied = Assert.Single(results, r => r.Succeeded);
        Assert.Equal(19, results.Count(r => r.Refusal?.Kind == RefusalKind.Conflict));
        var journal = Succeeds(await Service.ListAdjustmentsAsync(Support, workspace, null, Ct));
        var entry = Assert.Single(journal);
        Assert.Equal(applied.Value.Id, entry.Id);
        var values = await ValuesAsync(workspace);
        Assert.Equal(new CreditValues(100m + entry.Deltas.Balance, 100m + entry.Deltas.TotalPurchased, 0, 0), values);
        Assert.Equal(values, entry.After);
        Assert.Equal(1, await ScalarAsync<int>("SELECT count(*) FROM audit_logs WHERE action = 'credit_adjustment' AND workspace_id = @Id", new { Id = workspace }));
    }
}
