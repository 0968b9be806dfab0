using Dapper;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Stripe;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Stripe;

public sealed class ExpirySweeperTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task Two_console_instances_sweeping_at_once_make_one_sweep_that_keeps_its_count()
    {
        var settings = new Dictionary<string, string?> { ["Purchases:ReservationTtl"] = "00:00:00.050", ["Stripe:ExpirySweepInterval"] = "00:00:30" };
        await using var first = StripeKit.Create(database.ConnectionString, database.DataSource, settings);
        await using var second = StripeKit.Create(database.ConnectionString, database.DataSource, settings);
        var checkouts = new List<Checkout>();
        for (var i = 0; i < 3; i++)
        {
            checkouts.Add(await first.CheckoutAsync(leadCount: 1));
        }

        await Task.Delay(100);
        var sweepers = new[] { first, second }.Select(k => k.Services.GetRequiredService<ReservationExpirySweeper>()).ToArray();
        Assert.NotEqual(sweepers[0].Instance, sweepers[1].Instance);

        var sweeps = await Task.WhenAll(sweepers.Select(s => s.SweepOnceAsync(CancellationToken.None)));
        var later = await sweepers[1].SweepOnceAsync(CancellationToken.None);

        var done = Assert.Single(sweeps, s => s is not null)!;
        Assert.Equal(3, done.Expired);
        Assert.Null(later); // within the interval of the other instance's sweep
        Assert.Equal(1, await first.ScalarAsync<int>("SELECT count(*) FROM ops.stripe_expiry_sweeps"));
        foreach (var checkout in checkouts)
        {
            Assert.Equal("expired", await first.StatusOfAsync(checkout.PurchaseId));
            Assert.Equal("available", await first.ScalarAsync<string>("SELECT marketplace_status FROM leads WHERE id = @Id", new { Id = checkout.Leads[0] }));
        }

        Assert.Equal(3, await first.ScalarAsync<int>("SELECT count(*) FROM audit_logs WHERE action = 'purchase_expired' AND actor = @Actor", new { Actor = ReservationExpirySweeper.Actor }));
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
