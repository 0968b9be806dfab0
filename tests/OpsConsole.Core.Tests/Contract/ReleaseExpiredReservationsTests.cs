using Dapper;
using Npgsql;
using OpsConsole.Testing;
using Xunit.Abstractions;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// release_expired_lead_reservations. It works on the whole database, so each test first drains what
/// earlier tests of this class left to expire; the tests of one class run one after another.
/// </summary>
public sealed class ReleaseExpiredReservationsTests(MarketplaceDatabase database, ITestOutputHelper output) : ContractTest(database), IClassFixture<MarketplaceDatabase>
{
    private async Task<(Guid Buyer, Guid[] Leads, Guid PurchaseId)> CheckoutAsync(int leadCount, string paymentMethod = "credits")
    {
        var buyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var seller = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var leads = new Guid[leadCount];
        for (var i = 0; i < leadCount; i++)
        {
            leads[i] = await Data.ListedLeadAsync(seller, 10m, Ct);
        }

        return (buyer, leads, (await Data.ReserveAsync(buyer, leads, paymentMethod, Ct)).PurchaseId);
    }

    [Fact]
    public async Task Expires_the_pending_purchases_past_their_reservation_frees_their_leads_and_returns_how_many()
    {
        await Data.ReleaseExpiredAsync(Ct);
        var (buyerA, leadsA, purchaseA) = await CheckoutAsync(2);
        var (_, leadsB, purchaseB) = await CheckoutAsync(1, "stripe");
        await Data.BackdateReservationAsync(purchaseA, Ct);
        await Data.BackdateReservationAsync(purchaseB, Ct);

        var expired = await Data.ReleaseExpiredAsync(Ct);

        Assert.Equal(2, expired);
        Assert.Equal("expired", (await Data.PurchaseAsync(purchaseA, Ct)).Status);
        Assert.Equal("expired", (await Data.PurchaseAsync(purchaseB, Ct)).Status);
        foreach (var lead in leadsA.Concat(leadsB))
        {
            var row = await Data.LeadRowAsync(lead, Ct);
            Assert.Equal(("available", (Guid?)null, (DateTime?)null), (row.MarketplaceStatus, row.ReservedByPurchaseId, row.ReservedUntil));
        }

        var audit = Assert.Single(await Data.AuditAsync(purchaseA, Ct), a => a.Action == "purchase_expired");
        Assert.Equal(buyerA, audit.WorkspaceId);
        Assert.Equal(leadsA.Order(), audit.GuidList("released_lead_ids"));
        Assert.Single(await Data.AuditAsync(purchaseB, Ct), a => a.Action == "purchase_expired");
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Returns_zero_and_changes_nothing_when_no_reservation_has_run_out()
    {
        await Data.ReleaseExpiredAsync(Ct);
        var (_, leads, purchase) = await CheckoutAsync(1);

        Assert.Equal(0, await Data.ReleaseExpiredAsync(Ct));

        Assert.Equal("pending", (await Data.PurchaseAsync(purchase, Ct)).Status);
        Assert.Equal(purchase, (await Data.LeadRowAsync(leads[0], Ct)).ReservedByPurchaseId);
        Assert.DoesNotContain(await Data.AuditAsync(purchase, Ct), a => a.Action == "purchase_expired");
    }

    [Fact]
    public async Task Leaves_alone_purchases_that_are_not_pending()
    {
        await Data.ReleaseExpiredAsync(Ct);
        var (_, leads, purchase) = await CheckoutAsync(1);
        await Data.BackdateReservationAsync(purchase, Ct);
        Assert.Equal("completed", (await Data.CompleteCreditAsync(purchase, Ct)).Status);

        Assert.Equal(0, await Data.ReleaseExpiredAsync(Ct));

        Assert.Equal("completed", (await Data.PurchaseAsync(purchase, Ct)).Status);
        Assert.Equal("sold", (await Data.LeadRowAsync(leads[0], Ct)).MarketplaceStatus);
    }

    [Fact]
    public async Task Does_not_free_a_lead_a_newer_checkout_took_over()
    {
        await Data.ReleaseExpiredAsync(Ct);
        var (_, leads, stale) = await CheckoutAsync(2);
        await Data.BackdateReservationAsync(stale, Ct);
        var newBuyer = await Data.WorkspaceWithCreditsAsync(100m, Ct);
        var taker = await Data.ReserveAsync(newBuyer, [leads[0]], "credits", Ct);

        Assert.Equal(1, await Data.ReleaseExpiredAsync(Ct));

        Assert.Equal("expired", (await Data.PurchaseAsync(stale, Ct)).Status);
        Assert.Equal(("reserved", (Guid?)taker.PurchaseId), await ReservationAsync(leads[0]));
        Assert.Equal(("available", (Guid?)null), await ReservationAsync(leads[1]));
        var audit = Assert.Single(await Data.AuditAsync(stale, Ct), a => a.Action == "purchase_expired");
        Assert.Equal([leads[1]], audit.GuidList("released_lead_ids"));
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Skips_a_purchase_another_transaction_has_locked_and_expires_it_on_a_later_run()
    {
        await Data.ReleaseExpiredAsync(Ct);
        var (_, leads, purchase) = await CheckoutAsync(1);
        await Data.BackdateReservationAsync(purchase, Ct);
        await using (var holder = await Database.DataSource.OpenConnectionAsync(Ct))
        await using (var held = await holder.BeginTransactionAsync(Ct))
        {
            await holder.ExecuteAsync(new CommandDefinition(
                "SELECT 1 FROM marketplace_purchases WHERE id = @Id FOR UPDATE", new { Id = purchase }, held, cancellationToken: Ct));

            Assert.Equal(0, await Data.ReleaseExpiredAsync(Ct));
            Assert.Equal("pending", (await Data.PurchaseAsync(purchase, Ct)).Status);
        }

        Assert.Equal(1, await Data.ReleaseExpiredAsync(Ct));
        Assert.Equal("available", (await Data.LeadRowAsync(leads[0], Ct)).MarketplaceStatus);
    }

    [Fact]
    public async Task A_reservation_that_ran_out_at_the_time_of_an_earlier_transaction_is_expired()
    {
        await Data.ReleaseExpiredAsync(Ct);
        var (_, leads, purchase) = await CheckoutAsync(2);
        await EndReservationAtAsync(purchase, "now()");

        Assert.Equal(1, await Data.ReleaseExpiredAsync(Ct));

        Assert.Equal("expired", (await Data.PurchaseAsync(purchase, Ct)).Status);
        foreach (var lead in leads)
        {
            Assert.Equal(("available", (Guid?)null), await ReservationAsync(lead));
        }

        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task Within_one_transaction_a_reservation_ended_before_now_expires_a_later_one_stays_and_one_ending_at_now_is_handled_whole()
    {
        await Data.ReleaseExpiredAsync(Ct);
        var (_, beforeLeads, before) = await CheckoutAsync(2);
        var (_, atLeads, at) = await CheckoutAsync(2);
        var (_, afterLeads, after) = await CheckoutAsync(2);

        int expired;
        await using (var connection = await Database.DataSource.OpenConnectionAsync(Ct))
        await using (var transaction = await connection.BeginTransactionAsync(Ct))
        {
            // now() is this transaction's start: the reservations end just before it, exactly at it, and a minute after it.
            foreach (var (purchase, end) in new[] { (before, "now() - interval '1 millisecond'"), (at, "now()"), (after, "now() + interval '1 minute'") })
            {
                await connection.ExecuteAsync(new CommandDefinition(EndReservationSql(end), new { Id = purchase }, transaction, cancellationToken: Ct));
            }

            expired = await connection.ReleaseExpiredAsync(Ct);
            await transaction.CommitAsync(Ct);
        }

        Assert.Equal("expired", (await Data.PurchaseAsync(before, Ct)).Status);
        Assert.All(await Task.WhenAll(beforeLeads.Select(ReservationAsync)), r => Assert.Equal(("available", (Guid?)null), r));
        Assert.Equal("pending", (await Data.PurchaseAsync(after, Ct)).Status);
        Assert.All(await Task.WhenAll(afterLeads.Select(ReservationAsync)), r => Assert.Equal(("reserved", (Guid?)after), r));
        // At the instant itself the contract allows either answer, but never half of one.
        var atStatus = (await Data.PurchaseAsync(at, Ct)).Status;
        Assert.Contains(atStatus, new[] { "expired", "pending" });
        var expected = atStatus == "expired" ? ("available", (Guid?)null) : ("reserved", (Guid?)at);
        Assert.All(await Task.WhenAll(atLeads.Select(ReservationAsync)), r => Assert.Equal(expected, r));
        Assert.Equal(atStatus == "expired" ? 2 : 1, expired);
        await AssertInvariantsAsync();
    }

    [Fact]
    public async Task A_credit_completion_racing_the_sweep_at_expiry_ends_completed_or_expired_never_a_mix()
    {
        var outcomes = new List<string>();
        for (var round = 0; round < 12; round++)
        {
            await Data.ReleaseExpiredAsync(Ct);
            var (buyer, leads, purchase) = await CheckoutAsync(2);
            await Data.BackdateReservationAsync(purchase, Ct);
            await using var payer = await OpenUnpooledAsync();
            await using var sweeper = await OpenUnpooledAsync();
            using var start = new Barrier(2);

            var completion = Task.Run(async () =>
            {
                start.SignalAndWait(Ct);
                try
                {
                    return (await payer.CompleteCreditAsync(purchase, Ct)).Status;
                }
                catch (PostgresException error) when (error.SqlState == "MK409")
                {
                    return "MK409";
                }
            });
            var sweep = Task.Run(async () =>
            {
                start.SignalAndWait(Ct);
                return await sweeper.ReleaseExpiredAsync(Ct);
            });
            var (answer, _) = (await completion, await sweep);
            await Data.ReleaseExpiredAsync(Ct);
            outcomes.Add(answer);

            var status = (await Data.PurchaseAsync(purchase, Ct)).Status;
            var leadStates = await Task.WhenAll(leads.Select(async l => (await Data.LeadRowAsync(l, Ct)) is var row ? (row.MarketplaceStatus, row.SoldCount) : default));
            var balance = (await Data.CreditsAsync(buyer, Ct))!.Balance;
            if (answer == "completed")
            {
                Assert.Equal("completed", status);
                Assert.All(leadStates, s => Assert.Equal(("sold", 1), s));
                Assert.Equal(80m, balance);
            }
            else
            {
                Assert.Equal("MK409", answer);
                Assert.Equal("expired", status);
                Assert.All(leadStates, s => Assert.Equal(("available", 0), s));
                Assert.Equal(100m, balance);
            }

            await AssertInvariantsAsync();
        }

        output.WriteLine(string.Join(", ", outcomes.GroupBy(o => o).Select(g => $"{g.Key}: {g.Count()}")));
    }

    private static string EndReservationSql(string end) => $"""
        UPDATE marketplace_purchases SET reserved_until = {end} WHERE id = @Id;
        UPDATE leads SET reserved_until = {end} WHERE reserved_by_purchase_id = @Id;
        """;

    private Task EndReservationAtAsync(Guid purchase, string end) => Data.ExecuteAsync(EndReservationSql(end), new { Id = purchase }, Ct);

    private async Task<(string Status, Guid? ReservedBy)> ReservationAsync(Guid lead)
    {
        var row = await Data.LeadRowAsync(lead, Ct);
        return (row.MarketplaceStatus, row.ReservedByPurchaseId);
    }
}
