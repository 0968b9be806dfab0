using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Purchases;

/// <summary>
/// Migration 0025 drops the foreign key leads.reserved_by_purchase_id -> marketplace_purchases (three checks per
/// purchase on a row the same statement had just inserted). What stands in for it: a lead is only ever reserved by
/// a purchase that has an item for it, and the items' foreign key refuses to delete or re-key such a purchase.
/// </summary>
public sealed class ReservationReferenceTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    // Leads whose reservation names no purchase holding them as an item: what the dropped foreign key (and more) forbade.
    private const string DanglingSql = """
        SELECT count(*) FROM leads AS l
        WHERE l.reserved_by_purchase_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM marketplace_purchase_items AS i
                          WHERE i.purchase_id = l.reserved_by_purchase_id AND i.lead_id = l.id)
        """;

    [Fact]
    public async Task A_purchase_that_reserves_leads_can_be_neither_deleted_nor_given_another_id()
    {
        var db = database.DataSource;
        var sellers = await MarketSeed.WorkspacesAsync(db, 2, 0m);
        var buyers = await MarketSeed.WorkspacesAsync(db, 1, 100m);
        var leads = await MarketSeed.ListedLeadsAsync(db, sellers, 2, 5m);
        await using var services = TestServices.Build(database.ConnectionString);
        var reserved = await services.GetRequiredService<IPurchaseService>().ReserveForStripeAsync(buyers[0], leads, "t", CancellationToken.None);
        Assert.Equal(PurchaseOutcome.Reserved, reserved.Outcome);

        await using var connection = await db.OpenConnectionAsync();
        var delete = await Assert.ThrowsAsync<PostgresException>(() =>
            connection.ExecuteAsync("DELETE FROM marketplace_purchases WHERE id = @Id", new { Id = reserved.PurchaseId }));
        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, delete.SqlState);
        var rekey = await Assert.ThrowsAsync<PostgresException>(() =>
            connection.ExecuteAsync("UPDATE marketplace_purchases SET id = gen_random_uuid() WHERE id = @Id", new { Id = reserved.PurchaseId }));
        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, rekey.SqlState);

        Assert.Equal(4, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM leads WHERE reserved_by_purchase_id = @Id", new { Id = reserved.PurchaseId }));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(DanglingSql));
    }

    [Fact]
    public async Task Every_reservation_names_a_purchase_holding_that_lead_after_concurrent_checkouts_late_payments_and_expiry()
    {
        var db = database.DataSource;
        var sellers = await MarketSeed.WorkspacesAsync(db, 10, 0m);
        var buyers = await MarketSeed.WorkspacesAsync(db, 8, 60m);
        var leads = await MarketSeed.ListedLeadsAsync(db, sellers, 3, 5m);
        await using var services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?>
        {
            // Short reservations, so card payments arrive late, leads are taken over and expiry runs for real.
            ["Purchases:ReservationTtl"] = "00:00:00.050",
        });
        var purchases = services.GetRequiredService<IPurchaseService>();
        var functions = services.GetRequiredService<MarketplaceFunctions>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var workers = buyers.Select((buyer, index) => Task.Run(async () =>
        {
            var random = new Random(index);
            while (!stop.IsCancellationRequested)
            {
                var chosen = leads.OrderBy(_ => random.Next()).Take(random.Next(1, 4)).ToArray();
                if (index % 2 == 0)
                {
                    await purchases.PurchaseWithCreditsAsync(buyer, chosen, "t", CancellationToken.None);
                    continue;
                }

                var reserved = await purchases.ReserveForStripeAsync(buyer, chosen, "t", CancellationToken.None);
                if (reserved.Outcome == PurchaseOutcome.Reserved)
                {
                    await Task.Delay(random.Next(0, 100));
                    await purchases.CompleteStripeAsync(reserved.PurchaseId!.Value, "evt_" + Guid.NewGuid().ToString("N"), "pi_t", CancellationToken.None);
                }
            }
        })).Append(Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await functions.ReleaseExpiredReservationsAsync(CancellationToken.None);
                await Task.Delay(10);
            }
        })).ToArray();
        await Task.WhenAll(workers);

        await using var connection = await db.OpenConnectionAsync();
        Assert.True(await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM marketplace_purchases WHERE status = 'completed'") > 0,
            "no purchase completed: the test did not test anything");
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(DanglingSql));
        await MarketSeed.AssertInvariantsAsync(db);
    }
}
