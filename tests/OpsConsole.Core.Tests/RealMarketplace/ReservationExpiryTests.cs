using Dapper;
using OpsConsole.Core.Purchases.Drill;
using OpsConsole.Testing.RealMarketplace;

namespace OpsConsole.Core.Tests.RealMarketplace;

/// <summary>
/// The drop-in's reservations end by time: an ended one frees the lead for another buyer, and
/// <c>release_expired_lead_reservations()</c> expires the pending credit purchases that held them and clears
/// their leads, leaving live reservations and card checkouts alone.
/// </summary>
public sealed class ReservationExpiryTests
{
    private static readonly CancellationToken Ct = new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

    [Fact]
    public async Task The_sweep_expires_abandoned_credit_purchases_and_frees_their_leads_but_not_live_or_card_ones()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.DropIn, Ct);
        var scene = await MarketplaceScene.CreateAsync(db.DataSource, buyers: 2, leads: 3, price: 1.00m, balance: 10, Ct);
        var (abandoned, live, card) = (scene.LeadIds[0], scene.LeadIds[1], scene.LeadIds[2]);
        var abandonedPurchase = await PendingPurchaseAsync(db, scene.Buyers[0], abandoned, "credits");
        var livePurchase = await PendingPurchaseAsync(db, scene.Buyers[0], live, "credits");
        var cardPurchase = await PendingPurchaseAsync(db, scene.Buyers[0], card, "stripe");

        await using var connection = await db.DataSource.OpenConnectionAsync(Ct);
        // The abandoned checkout and the card checkout began longer ago than a reservation lasts.
        await connection.ExecuteAsync(
            """
            UPDATE marketplace_purchases SET created_at = now() - lead_reservation_interval() - interval '1 minute' WHERE id = ANY(@Old);
            UPDATE leads SET reserved_until = now() - interval '1 minute' WHERE id = ANY(@OldLeads);
            """,
            new { Old = new[] { abandonedPurchase, cardPurchase }, OldLeads = new[] { abandoned, card } });

        var released = await connection.ExecuteScalarAsync<int>("SELECT release_expired_lead_reservations()");

        Assert.Equal(1, released);
        var statuses = (await connection.QueryAsync<(Guid Id, string Status)>(
            "SELECT id, status FROM marketplace_purchases WHERE id = ANY(@Ids)",
            new { Ids = new[] { abandonedPurchase, livePurchase, cardPurchase } })).ToDictionary(r => r.Id, r => r.Status);
        Assert.Equal("expired", statuses[abandonedPurchase]);
        Assert.Equal("pending", statuses[livePurchase]);
        Assert.Equal("pending", statuses[cardPurchase]);
        var reservations = (await connection.QueryAsync<(Guid Id, Guid? Holder)>(
            "SELECT id, reserved_for_workspace_id FROM leads WHERE id = ANY(@Ids)", new { Ids = scene.LeadIds.ToArray() }))
            .ToDictionary(r => r.Id, r => r.Holder);
        Assert.Null(reservations[abandoned]);
        Assert.Equal(scene.Buyers[0].WorkspaceId, reservations[live]);
        Assert.Equal(scene.Buyers[0].WorkspaceId, reservations[card]);
        var audit = await connection.ExecuteScalarAsync<string>(
            "SELECT new_values::text FROM audit_logs WHERE action = 'marketplace_reservations_released'");
        Assert.Contains("\"purchases_expired\": 1", audit, StringComparison.Ordinal);

        // The ended card reservation is inert: the other buyer may take that lead; the live one stays held.
        Assert.Equal(ReplayStage.Completed, (await AppCallReplay.BuyWithCreditsAsync(db.AppDataSource, scene.Buyers[1], [card], completionCalls: 1, Ct)).Stage);
        Assert.Equal(ReplayStage.Conflict, (await AppCallReplay.BuyWithCreditsAsync(db.AppDataSource, scene.Buyers[1], [live], completionCalls: 1, Ct)).Stage);
    }

    private static async Task<Guid> PendingPurchaseAsync(RealMarketplaceDatabase db, AppBuyer buyer, Guid lead, string paymentMethod)
    {
        await using var connection = await db.AppDataSource.OpenConnectionAsync(Ct);
        await connection.ExecuteAsync("SELECT * FROM validate_and_lock_leads_for_purchase(@Leads, @Workspace)",
            new { Leads = new[] { lead }, Workspace = buyer.WorkspaceId });
        var purchase = await connection.ExecuteScalarAsync<Guid>(
            """
            INSERT INTO marketplace_purchases (buyer_workspace_id, buyer_user_id, total_leads, total_price, payment_method, status)
            VALUES (@Workspace, @User, 1, 1.00, @Method, 'pending') RETURNING id
            """,
            new { Workspace = buyer.WorkspaceId, User = buyer.UserId, Method = paymentMethod });
        await connection.ExecuteAsync(
            "INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price_at_purchase) VALUES (@Purchase, @Lead, 1.00)",
            new { Purchase = purchase, Lead = lead });
        return purchase;
    }
}
