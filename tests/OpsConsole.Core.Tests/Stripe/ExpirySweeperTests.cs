using Dapper;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Stripe;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Stripe;

public sealed class ExpirySweeperTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task Two_console_instances_sweeping_at_once_make_one_sweep_that_expires_abandoned_credit_purchases_and_leaves_card_checkouts_pending()
    {
        var settings = new Dictionary<string, string?> { ["Purchases:ReservationTtl"] = "00:00:00.050", ["Stripe:ExpirySweepInterval"] = "00:00:30" };
        await using var first = StripeKit.Create(database.ConnectionString, database.DataSource, settings);
        await using var second = StripeKit.Create(database.ConnectionString, database.DataSource, settings);
        var abandoned = new List<(Guid PurchaseId, Guid[] Leads)>();
        for (var i = 0; i < 3; i++)
        {
            abandoned.Add(await first.AbandonedCreditPurchaseAsync());
        }

        var card = await first.CheckoutAsync(leadCount: 1);
        await Task.Delay(100);
        var sweepers = new[] { first, second }.Select(k => k.Services.GetRequiredService<ReservationExpirySweeper>()).ToArray();
        Assert.NotEqual(sweepers[0].Instance, sweepers[1].Instance);

        var sweeps = await Task.WhenAll(sweepers.Select(s => s.SweepOnceAsync(CancellationToken.None)));
        var later = await sweepers[1].SweepOnceAsync(CancellationToken.None);

        var done = Assert.Single(sweeps, s => s is not null)!;
        Assert.Equal(3, done.Expired);
        Assert.Null(later); // within the interval of the other instance's sweep
        Assert.Equal(1, await first.ScalarAsync<int>("SELECT count(*) FROM ops.stripe_expiry_sweeps"));
        foreach (var (purchaseId, leads) in abandoned)
        {
            Assert.Equal("expired", await first.StatusOfAsync(purchaseId));
            Assert.Equal(("available", (Guid?)null), (await first.QueryAsync<(string, Guid?)>(
                "SELECT marketplace_status, reserved_for_workspace_id FROM leads WHERE id = @Id", new { Id = leads[0] })).Single());
        }

        // A card checkout's payment may still arrive (and is then re-checked): the sweep leaves it pending.
        Assert.Equal("pending", await first.StatusOfAsync(card.PurchaseId));
        Assert.Equal(3, await first.ScalarAsync<int>(
            "SELECT sum((new_values->>'purchases_expired')::int)::int FROM audit_logs WHERE action = 'marketplace_reservations_released'"));
        var (latest, lastHour) = await sweepers[0].LatestAsync(CancellationToken.None);
        Assert.Equal((done.Instance, 3, 3), (latest!.Instance, latest.Expired, lastHour));
    }
}

/// <summary>Apart from <see cref="ExpirySweeperTests"/>: a database of its own, so no earlier sweep counts as recent.</summary>
public sealed class ExpirySweepLockTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task A_sweep_skips_while_another_instance_holds_the_sweep_lock()
    {
        await using var kit = StripeKit.Create(database.ConnectionString, database.DataSource, new Dictionary<string, string?> { ["Stripe:ExpirySweepInterval"] = "00:00:01" });
        var sweeper = kit.Services.GetRequiredService<ReservationExpirySweeper>();
        await using var other = await database.DataSource.OpenConnectionAsync();
        await using var holding = await other.BeginTransactionAsync();
        await other.ExecuteAsync("SELECT pg_advisory_xact_lock(@Key)", new { Key = ReservationExpirySweeper.SweepLockKey }, holding);
        var before = await kit.ScalarAsync<int>("SELECT count(*) FROM ops.stripe_expiry_sweeps");

        Assert.Null(await sweeper.SweepOnceAsync(CancellationToken.None));
        Assert.Equal(before, await kit.ScalarAsync<int>("SELECT count(*) FROM ops.stripe_expiry_sweeps"));

        await holding.RollbackAsync();
        Assert.NotNull(await sweeper.SweepOnceAsync(CancellationToken.None));
    }
}
