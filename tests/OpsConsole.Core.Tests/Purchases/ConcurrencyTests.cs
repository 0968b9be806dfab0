using System.Collections.Concurrent;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;
using Xunit.Abstractions;

namespace OpsConsole.Core.Tests.Purchases;

// Each class has a database of its own, so the deadlock counter read by a test counts only that test's work.

public sealed class ConcurrentBuyersTests(MarketplaceDatabase database, ITestOutputHelper output) : IClassFixture<MarketplaceDatabase>
{
    private const int Workspaces = 32;
    private const int LeadsPerBurst = 40;
    private const int Bursts = 8;
    private const int AttemptsPerBurst = 3;
    private const int CardBuyers = 4;

    [Fact]
    public async Task Thirty_two_workspaces_buying_and_selling_forty_leads_at_a_time_meet_conflicts_and_expiry_and_keep_every_invariant()
    {
        var db = database.DataSource;
        // Every workspace buys and sells, so credit rows are locked as buyer and as seller by concurrent purchases.
        var workspaces = await MarketSeed.WorkspacesAsync(db, Workspaces, 150m);
        var deadlocksBefore = await MarketSeed.DeadlocksAsync(database.ConnectionString);
        var outcomes = new ConcurrentBag<PurchaseResult>();
        var errors = new ConcurrentBag<Exception>();
        var expired = 0;

        await using (var services = TestServices.Build(database.ConnectionString))
        await using (var shortReservations = TestServices.Build(database.ConnectionString, new Dictionary<string, string?> { ["Purchases:ReservationTtl"] = "00:00:00.050" }))
        {
            var purchases = services.GetRequiredService<IPurchaseService>();
            var checkouts = shortReservations.GetRequiredService<IPurchaseService>();
            using var stop = new CancellationTokenSource();
            // The sweep runs all along: card buyers pay up to 150 ms after reserving for 50 ms, so expiry races payment.
            var sweeper = Task.Run(async () =>
            {
                var functions = services.GetRequiredService<MarketplaceFunctions>();
                while (!stop.IsCancellationRequested)
                {
                    Interlocked.Add(ref expired, await functions.ReleaseExpiredReservationsAsync(CancellationToken.None));
                }
            });

            for (var burst = 0; burst < Bursts; burst++)
            {
                var leads = await LeadsWithSellersAsync(db, await MarketSeed.ScatteredLeadsAsync(db, workspaces, LeadsPerBurst));
                var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var buyers = workspaces.Select((buyer, index) => Task.Run(async () =>
                {
                    var random = new Random(burst * 100 + index);
                    var others = leads.Where(l => l.Seller != buyer).Select(l => l.Id).ToArray();
                    await start.Task;
                    for (var attempt = 0; attempt < AttemptsPerBurst; attempt++)
                    {
                        var chosen = others.OrderBy(_ => random.Next()).Take(random.Next(1, 4)).ToArray();
                        try
                        {
                            if (index >= CardBuyers)
                            {
                                outcomes.Add(await purchases.PurchaseWithCreditsAsync(buyer, chosen, $"buyer-{index}", CancellationToken.None));
                                continue;
                            }

                            var reserved = await checkouts.ReserveForStripeAsync(buyer, chosen, $"buyer-{index}", CancellationToken.None);
                            outcomes.Add(reserved);
                            if (reserved.Outcome == PurchaseOutcome.Reserved)
                            {
                                await Task.Delay(random.Next(0, 150));
                                var eventId = "evt_" + Guid.NewGuid().ToString("N");
                                for (var delivery = 0; delivery < random.Next(1, 3); delivery++)
                                {
                                    outcomes.Add(await purchases.CompleteStripeAsync(reserved.PurchaseId!.Value, eventId, "pi_" + index, CancellationToken.None));
                                }
                            }
                        }
                        catch (Exception error)
                        {
                            errors.Add(error);
                        }
                    }
                })).ToArray();
                start.SetResult();
                await Task.WhenAll(buyers);
            }

            await stop.CancelAsync();
            await sweeper;
        }

        var byOutcome = outcomes.GroupBy(r => r.Outcome).ToDictionary(g => g.Key, g => g.Count());
        var retried = outcomes.Count(r => r.Attempts > 1);
        output.WriteLine(string.Join(", ", byOutcome.Select(kv => $"{kv.Key}: {kv.Value}")) + $"; retried: {retried}; expired by the sweep: {expired}");
        Assert.Empty(errors);
        Assert.All(outcomes, r => Assert.Contains(r.Outcome, new[]
        {
            PurchaseOutcome.Completed, PurchaseOutcome.Reserved, PurchaseOutcome.Conflict, PurchaseOutcome.InsufficientCredits,
            PurchaseOutcome.Duplicate, PurchaseOutcome.RefundRequired,
        }));
        // The contention the test is for happened: lock conflicts retried, conflicts reported, reservations expired.
        Assert.True(byOutcome.GetValueOrDefault(PurchaseOutcome.Completed) > 0, "no purchase completed");
        Assert.True(byOutcome.GetValueOrDefault(PurchaseOutcome.Conflict) > 0, "no conflict was reported");
        Assert.True(retried > 0, "no attempt was retried after a lock conflict");
        Assert.True(expired > 0, "the sweep expired no reservation");
        await MarketSeed.AssertInvariantsAsync(db);
        Assert.Equal(deadlocksBefore, await MarketSeed.DeadlocksAsync(database.ConnectionString));
    }

    private static async Task<(Guid Id, Guid Seller)[]> LeadsWithSellersAsync(NpgsqlDataSource db, Guid[] leads)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryAsync<(Guid, Guid)>("SELECT id, workspace_id FROM leads WHERE id = ANY(@Leads)", new { Leads = leads })).ToArray();
    }
}

public sealed class BuyersWhoSellTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task Two_workspaces_buying_from_each_other_at_once_never_deadlock()
    {
        const int Rounds = 25;
        var db = database.DataSource;
        var both = await MarketSeed.WorkspacesAsync(db, 2, 1000m);
        var (first, second) = (both[0], both[1]);
        var leadsOfFirst = await MarketSeed.ListedLeadsAsync(db, [first], Rounds, 10m);
        var leadsOfSecond = await MarketSeed.ListedLeadsAsync(db, [second], Rounds, 10m);
        var deadlocksBefore = await MarketSeed.DeadlocksAsync(database.ConnectionString);

        await using (var services = TestServices.Build(database.ConnectionString))
        {
            var purchases = services.GetRequiredService<IPurchaseService>();
            for (var round = 0; round < Rounds; round++)
            {
                // Each purchase locks both credit rows, one as buyer and one as seller, in opposite roles.
                using var gate = new Barrier(2);
                var (lead1, lead2) = (leadsOfSecond[round], leadsOfFirst[round]);
                var results = await Task.WhenAll(
                    Task.Run(() => { gate.SignalAndWait(); return purchases.PurchaseWithCreditsAsync(first, [lead1], "first", CancellationToken.None); }),
                    Task.Run(() => { gate.SignalAndWait(); return purchases.PurchaseWithCreditsAsync(second, [lead2], "second", CancellationToken.None); }));

                Assert.All(results, r => Assert.Equal(PurchaseOutcome.Completed, r.Outcome));
            }
        }

        await using var connection = await db.OpenConnectionAsync();
        // Each paid 250 and earned 250.
        Assert.Equal([1000m, 1000m], await connection.QueryAsync<decimal>(
            "SELECT balance FROM workspace_credits WHERE workspace_id = ANY(@Ids)", new { Ids = new[] { first, second } }));
        await MarketSeed.AssertInvariantsAsync(db);
        Assert.Equal(deadlocksBefore, await MarketSeed.DeadlocksAsync(database.ConnectionString));
    }
}

public sealed class SimultaneousBuyersTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task Two_buyers_of_the_same_lead_released_at_the_same_instant_exactly_one_wins()
    {
        var db = database.DataSource;
        var seller = (await MarketSeed.WorkspacesAsync(db, 1, 0m))[0];
        var buyers = await MarketSeed.WorkspacesAsync(db, 2, 1000m);
        var leads = await MarketSeed.ListedLeadsAsync(db, [seller], 40, 10m);
        var deadlocksBefore = await MarketSeed.DeadlocksAsync(database.ConnectionString);

        await using (var services = TestServices.Build(database.ConnectionString))
        {
            var purchases = services.GetRequiredService<IPurchaseService>();
            foreach (var lead in leads)
            {
                using var gate = new Barrier(2);
                var race = buyers.Select(buyer => Task.Run(() =>
                {
                    gate.SignalAndWait();
                    return purchases.PurchaseWithCreditsAsync(buyer, [lead], "racer", CancellationToken.None);
                })).ToArray();
                var results = await Task.WhenAll(race);

                Assert.Single(results, r => r.Outcome == PurchaseOutcome.Completed);
                Assert.Single(results, r => r.Outcome == PurchaseOutcome.Conflict);
            }
        }

        await using var connection = await db.OpenConnectionAsync();
        // Each buyer paid exactly for the leads it won.
        Assert.Equal(2000m - 10m * leads.Length, await connection.ExecuteScalarAsync<decimal>(
            "SELECT sum(balance) FROM workspace_credits WHERE workspace_id = ANY(@Buyers)", new { Buyers = buyers }));
        await MarketSeed.AssertInvariantsAsync(db);
        Assert.Equal(deadlocksBefore, await MarketSeed.DeadlocksAsync(database.ConnectionString));
    }
}

public sealed class TerminatedBackendTests(MarketplaceDatabase database, ITestOutputHelper output) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task Backends_terminated_in_the_middle_of_purchases_leave_no_partial_purchase()
    {
        var db = database.DataSource;
        var sellers = await MarketSeed.WorkspacesAsync(db, 20, 0m);
        var buyers = await MarketSeed.WorkspacesAsync(db, 16, 400m);
        var leads = await MarketSeed.ListedLeadsAsync(db, sellers, 50, 4m);
        var deadlocksBefore = await MarketSeed.DeadlocksAsync(database.ConnectionString);
        var broken = 0;
        var kills = 0;

        await using (var services = TestServices.Build(database.ConnectionString))
        {
            var purchases = services.GetRequiredService<IPurchaseService>();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            var workers = buyers.Select((buyer, index) => Task.Run(async () =>
            {
                var random = new Random(index);
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        await purchases.PurchaseWithCreditsAsync(buyer, leads.OrderBy(_ => random.Next()).Take(3).ToArray(), "t", CancellationToken.None);
                    }
                    catch (NpgsqlException)
                    {
                        Interlocked.Increment(ref broken);
                    }
                }
            })).ToArray();

            // Terminate sessions of the purchase path while they run a statement.
            await using (var killer = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database.ConnectionString) { Pooling = false }.ConnectionString))
            {
                await killer.OpenAsync();
                while (!stop.IsCancellationRequested)
                {
                    kills += await killer.ExecuteScalarAsync<int>("""
                        SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int FROM pg_stat_activity
                        WHERE datname = current_database() AND application_name = 'OpsConsole' AND state = 'active'
                        """);
                }
            }

            await Task.WhenAll(workers);
        }

        output.WriteLine($"terminated {kills} backends; {broken} purchases saw their connection die");
        Assert.True(kills > 0, "no backend was terminated mid-statement: the test did not test anything");
        Assert.True(broken > 0, "no purchase saw its connection die");
        await using var connection = await db.OpenConnectionAsync();
        // A credit purchase is one transaction: it is there whole (completed or failed, duration recorded) or not at all.
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("""
            SELECT count(*) FROM marketplace_purchases
            WHERE status NOT IN ('completed', 'failed') OR duration_ms IS NULL
            """));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM leads WHERE marketplace_status = 'reserved'"));
        await MarketSeed.AssertInvariantsAsync(db);
        Assert.Equal(deadlocksBefore, await MarketSeed.DeadlocksAsync(database.ConnectionString));
    }
}

public sealed class StripeDeliveryTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task The_same_event_delivered_many_times_at_once_completes_the_purchase_once()
    {
        var db = database.DataSource;
        var seller = (await MarketSeed.WorkspacesAsync(db, 1, 0m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(db, 1, 0m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(db, [seller], 3, 9m);
        await using var services = TestServices.Build(database.ConnectionString);
        var purchases = services.GetRequiredService<IPurchaseService>();
        var purchase = (await purchases.ReserveForStripeAsync(buyer, leads, "t", CancellationToken.None)).PurchaseId!.Value;

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var deliveries = Enumerable.Range(0, 20).Select(async _ =>
        {
            await gate.Task;
            return await purchases.CompleteStripeAsync(purchase, "evt_same", "pi_same", CancellationToken.None);
        }).ToArray();
        gate.SetResult();
        var results = await Task.WhenAll(deliveries);

        Assert.Single(results, r => r.Outcome == PurchaseOutcome.Completed);
        Assert.Equal(19, results.Count(r => r.Outcome == PurchaseOutcome.Duplicate));
        await using var connection = await db.OpenConnectionAsync();
        Assert.Equal(20, await connection.ExecuteScalarAsync<int>("SELECT deliveries FROM stripe_webhook_events WHERE event_id = 'evt_same'"));
        Assert.Equal(27m, await connection.ExecuteScalarAsync<decimal>("SELECT balance FROM workspace_credits WHERE workspace_id = @Seller", new { Seller = seller }));
        await MarketSeed.AssertInvariantsAsync(db);
    }

    [Fact]
    public async Task Different_events_for_one_purchase_arriving_out_of_order_and_repeated_complete_it_once()
    {
        var db = database.DataSource;
        var seller = (await MarketSeed.WorkspacesAsync(db, 1, 0m))[0];
        var buyer = (await MarketSeed.WorkspacesAsync(db, 1, 0m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(db, [seller], 2, 15m);
        await using var services = TestServices.Build(database.ConnectionString);
        var purchases = services.GetRequiredService<IPurchaseService>();
        var purchase = (await purchases.ReserveForStripeAsync(buyer, leads, "t", CancellationToken.None)).PurchaseId!.Value;
        // The later event (charge) first, then the earlier one, each delivered several times, all at once.
        string[] deliveries = ["evt_charge_succeeded", "evt_intent_succeeded", "evt_charge_succeeded", "evt_intent_succeeded",
                               "evt_checkout_completed", "evt_charge_succeeded", "evt_intent_succeeded", "evt_checkout_completed"];

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = deliveries.Select(async eventId =>
        {
            await gate.Task;
            return await purchases.CompleteStripeAsync(purchase, eventId, "pi_1", CancellationToken.None);
        }).ToArray();
        gate.SetResult();
        var results = await Task.WhenAll(calls);

        Assert.Single(results, r => r.Outcome == PurchaseOutcome.Completed);
        Assert.All(results, r => Assert.Contains(r.Outcome, new[] { PurchaseOutcome.Completed, PurchaseOutcome.Duplicate, PurchaseOutcome.AlreadyCompleted }));
        // Each distinct event is new once (completed or already completed), and a repeat every other time.
        Assert.Equal(deliveries.Length - 3, results.Count(r => r.Outcome == PurchaseOutcome.Duplicate));
        await MarketSeed.AssertInvariantsAsync(db);
    }

    [Fact]
    public async Task A_payment_after_the_reservation_expired_and_the_lead_sold_elsewhere_requires_a_refund()
    {
        var db = database.DataSource;
        var seller = (await MarketSeed.WorkspacesAsync(db, 1, 0m))[0];
        var cardBuyer = (await MarketSeed.WorkspacesAsync(db, 1, 0m))[0];
        var creditBuyer = (await MarketSeed.WorkspacesAsync(db, 1, 100m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(db, [seller], 2, 20m);
        // Reservations that expire at once: the checkout is abandoned as far as the marketplace can tell.
        await using var shortLived = TestServices.Build(database.ConnectionString, new Dictionary<string, string?> { ["Purchases:ReservationTtl"] = "00:00:00.001" });
        await using var services = TestServices.Build(database.ConnectionString);
        var purchases = services.GetRequiredService<IPurchaseService>();

        var checkout = await shortLived.GetRequiredService<IPurchaseService>().ReserveForStripeAsync(cardBuyer, leads, "card", CancellationToken.None);
        var elsewhere = await purchases.PurchaseWithCreditsAsync(creditBuyer, [leads[1]], "credit", CancellationToken.None);
        var payment = await purchases.CompleteStripeAsync(checkout.PurchaseId!.Value, "evt_late", "pi_late", CancellationToken.None);
        var redelivered = await purchases.CompleteStripeAsync(checkout.PurchaseId!.Value, "evt_late", "pi_late", CancellationToken.None);

        Assert.Equal(PurchaseOutcome.Completed, elsewhere.Outcome);
        Assert.Equal(PurchaseOutcome.RefundRequired, payment.Outcome);
        Assert.Equal(PurchaseOutcome.Duplicate, redelivered.Outcome);
        await using var connection = await db.OpenConnectionAsync();
        Assert.Equal("refund_required", await connection.ExecuteScalarAsync<string>(
            "SELECT status FROM marketplace_purchases WHERE id = @Id", new { Id = checkout.PurchaseId }));
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT sold_count FROM leads WHERE id = @Id", new { Id = leads[1] }));
        Assert.Equal("available", await connection.ExecuteScalarAsync<string>("SELECT marketplace_status FROM leads WHERE id = @Id", new { Id = leads[0] }));
        await MarketSeed.AssertInvariantsAsync(db);
    }
}
