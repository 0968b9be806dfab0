using Npgsql;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// Calls killed half way (pg_terminate_backend while the call waits at its first write to a table, see
/// <see cref="MidCallPause"/>): nothing they did remains, every invariant holds, and the same call made again
/// does the whole work once. The credit purchase path is killed at random in TerminatedBackendTests.
/// </summary>
public sealed class KilledCallTests(MarketplaceDatabase database) : ContractTest(database), IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task A_card_payment_killed_while_crediting_the_seller_leaves_nothing_and_its_redelivery_completes_the_purchase()
    {
        var buyer = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var seller = await Data.WorkspaceWithCreditsAsync(5m, Ct);
        Guid[] leads = [await Data.ListedLeadAsync(seller, 10m, Ct), await Data.ListedLeadAsync(seller, 15m, Ct)];
        var purchase = (await Data.ReserveAsync(buyer, leads, "stripe", Ct)).PurchaseId;

        await using (var pause = await MidCallPause.InstallAsync(Database, "workspace_credits", Ct))
        {
            await using var payer = await OpenUnpooledAsync();
            var payment = payer.CompleteStripeAsync(purchase, "evt_killed", "pi_killed", Ct);
            await pause.KillPausedCallAsync(Ct);
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => payment);
        }

        Assert.Equal("pending", (await Data.PurchaseAsync(purchase, Ct)).Status);
        foreach (var lead in leads)
        {
            var row = await Data.LeadRowAsync(lead, Ct);
            Assert.Equal(("reserved", (Guid?)purchase, 0), (row.MarketplaceStatus, row.ReservedByPurchaseId, row.SoldCount));
        }

        Assert.Equal(new CreditRow { Balance = 5m, TotalPurchased = 5m }, await Data.CreditsAsync(seller, Ct));
        Assert.Null(await Data.WebhookEventAsync("evt_killed", Ct));
        Assert.DoesNotContain(await Data.AuditAsync(purchase, Ct), a => a.Action == "purchase_completed");
        await AssertInvariantsAsync();

        // Stripe delivers the event again: it is new to the marketplace, and completes the purchase once.
        Assert.Equal("completed", (await Data.CompleteStripeAsync(purchase, "evt_killed", "pi_killed", Ct)).Status);
        Assert.Equal(new CreditRow { Balance = 30m, TotalPurchased = 5m, TotalEarned = 25m }, await Data.CreditsAsync(seller, Ct));
        Assert.Equal(1, (await Data.WebhookEventAsync("evt_killed", Ct))!.Deliveries);
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task An_expiry_sweep_killed_while_freeing_leads_expires_nothing_and_the_next_sweep_expires_every_purchase()
    {
        await Data.ReleaseExpiredAsync(Ct);
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var checkouts = new List<(Guid Purchase, Guid[] Leads)>();
        for (var i = 0; i < 2; i++)
        {
            Guid[] leads = [await Data.ListedLeadAsync(seller, 10m, Ct), await Data.ListedLeadAsync(seller, 10m, Ct)];
            var purchase = (await Data.ReserveAsync(buyer, leads, "credits", Ct)).PurchaseId;
            await Data.BackdateReservationAsync(purchase, Ct);
            checkouts.Add((purchase, leads));
        }

        await using (var pause = await MidCallPause.InstallAsync(Database, "leads", Ct))
        {
            await using var sweeper = await OpenUnpooledAsync();
            var sweep = sweeper.ReleaseExpiredAsync(Ct);
            await pause.KillPausedCallAsync(Ct);
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => sweep);
        }

        foreach (var (purchase, leads) in checkouts)
        {
            Assert.Equal("pending", (await Data.PurchaseAsync(purchase, Ct)).Status);
            foreach (var lead in leads)
            {
                var row = await Data.LeadRowAsync(lead, Ct);
                Assert.Equal(("reserved", (Guid?)purchase), (row.MarketplaceStatus, row.ReservedByPurchaseId));
            }

            Assert.DoesNotContain(await Data.AuditAsync(purchase, Ct), a => a.Action == "purchase_expired");
        }

        await AssertInvariantsAsync();

        Assert.Equal(2, await Data.ReleaseExpiredAsync(Ct));
        foreach (var (purchase, leads) in checkouts)
        {
            Assert.Equal("expired", (await Data.PurchaseAsync(purchase, Ct)).Status);
            foreach (var lead in leads)
            {
                Assert.Equal("available", (await Data.LeadRowAsync(lead, Ct)).MarketplaceStatus);
            }
        }

        await AssertInvariantsAsync();
    }
}
