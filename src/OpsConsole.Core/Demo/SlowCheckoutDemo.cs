using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpsConsole.Core.Purchases;

namespace OpsConsole.Core.Demo;

/// <summary>One slow checkout: who holds the lead, who queues behind, and for how long.</summary>
/// <param name="Lead">The lead they all reach for.</param>
/// <param name="Buyer">The buyer whose checkout holds the lead's row lock.</param>
/// <param name="RepeatedClicks">How many more times the buyer clicks checkout meanwhile: each waits for the same row, one behind the other.</param>
/// <param name="Hold">How long the slow checkout holds the lock.</param>
public sealed record SlowCheckoutPlan(Guid Lead, Guid Buyer, int RepeatedClicks, TimeSpan Hold);

/// <summary>How a slow checkout ended.</summary>
/// <param name="SlowCheckout">completed, or what stopped it (cancelled, terminated...).</param>
/// <param name="QueuedPurchases">For each repeated click, the purchase it completed, or null when the lead was gone by its turn.</param>
public sealed record SlowCheckoutOutcome(string SlowCheckout, IReadOnlyList<Guid?> QueuedPurchases);

/// <summary>
/// The lock views' part of the demo, run as the "slow checkout" incident scenario (<see cref="DemoScenarios"/>), on the
/// marketplace's own calls only. A demo buyer double-clicks checkout: each click validates the lead
/// (<c>validate_and_lock_leads_for_purchase</c>, which reserves it for the buyer and lets the same buyer validate it
/// again) and inserts its pending purchase. One click's validate then stalls in its transaction ("waiting for the card
/// network") holding the lead's row lock, and the other clicks' completions (<c>complete_credit_lead_purchase</c>) wait
/// for that row (the function locks its leads FOR UPDATE and waits, where validate's NOWAIT gives
/// up), one behind the other. <c>/locks</c> then shows a tree with the lead named, and an engineer can practise cancel
/// and terminate: either rolls the slow validate back, the first repeated click's completion buys the lead, and
/// the function's re-check fails the next one (the lead is sold). Its sessions use application names of their own,
/// so the console does not take them for its own sessions.
/// </summary>
public sealed partial class SlowCheckoutDemo(
    IConfiguration configuration, DemoMarket market, TimeProvider time, ILogger<SlowCheckoutDemo> logger)
{
    /// <summary>application_name of the slow checkout's session.</summary>
    public const string SlowCheckoutApplication = "demo slow checkout";

    /// <summary>application_name of the queued buyers' sessions.</summary>
    public const string QueuedBuyerApplication = "demo buyer checkout";

    /// <summary>Runs one slow checkout to its end; the queued buyers give up 30 s after the hold would have ended.</summary>
    public async Task<SlowCheckoutOutcome> RunAsync(SlowCheckoutPlan plan, CancellationToken cancellationToken)
    {
        await using var slowSource = Source(SlowCheckoutApplication);
        await using var queuedSource = Source(QueuedBuyerApplication);
        var slowFunctions = new MarketplaceFunctions(slowSource);
        var queuedFunctions = new MarketplaceFunctions(queuedSource);

        // The repeated clicks validate and insert before the slow click takes the row: validate's NOWAIT would refuse after.
        var queuedPurchases = new List<PendingReservation?>();
        for (var click = 0; click < plan.RepeatedClicks; click++)
        {
            queuedPurchases.Add(await ReserveAsync(queuedFunctions, plan.Buyer, plan.Lead, cancellationToken));
        }

        // The slow click's validate holds the lead's row (and only it) in a transaction that stalls.
        await using var slow = await slowSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await slow.BeginTransactionAsync(cancellationToken);
        await using (var validate = new NpgsqlCommand(MarketplaceFunctions.ValidateSql, slow, transaction)
        {
            Parameters =
            {
                new() { Value = new[] { plan.Lead }, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Uuid },
                new() { Value = plan.Buyer },
            },
        })
        {
            await validate.ExecuteNonQueryAsync(cancellationToken);
        }

        // Queued in order: each starts once the one before it waits, so the second queues behind the first.
        var queued = new List<Task<Guid?>>();
        foreach (var purchase in queuedPurchases)
        {
            if (purchase is null)
            {
                queued.Add(Task.FromResult<Guid?>(null));
                continue;
            }

            var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            queued.Add(QueueAsync(queuedSource, plan.Buyer, purchase, plan.Hold, waiting, cancellationToken));
            await waiting.Task.WaitAsync(TimeSpan.FromSeconds(5), time, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        string outcome;
        try
        {
            await slow.ExecuteAsync(new CommandDefinition(
                "SELECT pg_sleep(@Seconds) /* demo: the card network is slow */", new { Seconds = plan.Hold.TotalSeconds }, transaction,
                commandTimeout: (int)plan.Hold.TotalSeconds + 30, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            // Then route.ts's insert and completion, as their own calls: a repeated click may have bought the lead by now.
            var purchase = await ReserveAsync(slowFunctions, plan.Buyer, plan.Lead, cancellationToken);
            CreditCompletion? completion = null;
            try
            {
                completion = purchase is null ? null
                    : await slowFunctions.CompleteCreditPurchaseAsync(purchase.Id, plan.Buyer, purchase.Total, cancellationToken);
            }
            catch (MarketplaceException)
            {
                // Refused (the lead is sold): the outcome below says so.
            }

            outcome = completion?.Outcome == PurchaseOutcome.Completed ? "completed" : "lead sold to a repeated click";
        }
        catch (PostgresException error) when (error.SqlState == PostgresErrorCodes.QueryCanceled)
        {
            outcome = "cancelled";
        }
        catch (NpgsqlException error) when (!cancellationToken.IsCancellationRequested)
        {
            // Terminated: the server says so, or the connection just ends.
            outcome = error is PostgresException { SqlState: PostgresErrorCodes.AdminShutdown } || error is not PostgresException ? "terminated" : error.Message;
        }

        return new SlowCheckoutOutcome(outcome, await Task.WhenAll(queued));
    }

    // A buyer's pending credit purchase of the lead, as route.ts makes it: validate, then the purchase and its item.
    private sealed record PendingReservation(Guid Id, decimal Total);

    private static async Task<PendingReservation?> ReserveAsync(
        MarketplaceFunctions functions, Guid buyer, Guid lead, CancellationToken cancellationToken)
    {
        try
        {
            var user = await functions.BuyerUserAsync(buyer, cancellationToken);
            if (user is null)
            {
                return null;
            }

            var locked = await functions.ValidateAndLockLeadsAsync([lead], buyer, cancellationToken);
            var items = locked.Select(l => new PendingItem(
                l.Id, l.MarketplacePrice is { } p && p != 0 ? p : PurchaseService.DefaultPrice, l.IntentScoreCalculated, l.FreshnessScore,
                l.PartnerId, null)).ToArray();
            var purchase = new PendingPurchase(buyer, user.Value, PaymentMethod.Credits, items);
            return new PendingReservation(
                await functions.CreatePendingPurchaseAsync(purchase, DateTime.UtcNow, cancellationToken), purchase.TotalPrice);
        }
        catch (MarketplaceException)
        {
            return null;
        }
    }

    // complete_credit_lead_purchase in the caller's transaction: it locks the purchase's leads FOR UPDATE (waiting).
    private static async Task<CreditCompletion> CompleteAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Guid buyer, PendingReservation purchase,
        CancellationToken cancellationToken, int? timeoutSeconds = null)
    {
        await using var command = new NpgsqlCommand(MarketplaceFunctions.CompleteCreditSql, connection, transaction)
        {
            Parameters = { new() { Value = purchase.Id }, new() { Value = buyer }, new() { Value = purchase.Total } },
        };
        if (timeoutSeconds is { } seconds)
        {
            command.CommandTimeout = seconds;
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await MarketplaceFunctions.ReadCreditCompletionAsync(reader, purchase.Id, cancellationToken);
    }

    /// <summary>
    /// A plan for one slow checkout: a lead of the pool and a funded buyer other than its seller, who clicks checkout
    /// three times, or null when the pool or the buyers do not allow one.
    /// </summary>
    public async Task<SlowCheckoutPlan?> PlanAsync(DemoLeadPool pool, TimeSpan hold, CancellationToken cancellationToken)
    {
        var buyers = (await market.GetBuyerBalancesAsync(cancellationToken)).Where(b => b.Balance >= DemoTrafficService.MinBuyerBalance).ToList();
        var lead = pool.TakeLeads(1, Guid.Empty);
        if (lead.Count == 0)
        {
            return null;
        }

        var buyer = buyers.Select(b => b.Id).Where(b => b != lead[0].SellerId).OrderBy(_ => Random.Shared.Next()).FirstOrDefault();
        return buyer == Guid.Empty ? null : new SlowCheckoutPlan(lead[0].Id, buyer, 2, hold);
    }

    // A repeated click's completion, waiting for the lead's row (until 30 s after the hold would end). Null when the
    // function's re-check found the lead sold by its turn (it then fails that purchase and frees the reservation).
    private async Task<Guid?> QueueAsync(
        NpgsqlDataSource source, Guid buyer, PendingReservation purchase, TimeSpan hold, TaskCompletionSource waiting,
        CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await source.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var patience = hold + TimeSpan.FromSeconds(30);
            await connection.ExecuteAsync(new CommandDefinition(
                "SELECT set_config('lock_timeout', @Timeout, true)", new { Timeout = $"{(long)patience.TotalMilliseconds}ms" }, transaction, cancellationToken: cancellationToken));
            var completing = CompleteAsync(connection, transaction, buyer, purchase, cancellationToken, (int)patience.TotalSeconds + 30);
            _ = Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken).ContinueWith(_ => waiting.TrySetResult(), TaskScheduler.Default);
            var completion = await completing;
            await transaction.CommitAsync(cancellationToken);
            return completion.Outcome == PurchaseOutcome.Completed ? purchase.Id : null;
        }
        catch (NpgsqlException) when (!cancellationToken.IsCancellationRequested)
        {
            waiting.TrySetResult();
            return null;
        }
    }

    private NpgsqlDataSource Source(string application, string connectionStringName = ServiceCollectionExtensions.ConnectionStringName) =>
        new NpgsqlDataSourceBuilder(configuration.GetConnectionString(connectionStringName)
            ?? configuration.GetConnectionString(ServiceCollectionExtensions.ConnectionStringName))
        {
            ConnectionStringBuilder = { ApplicationName = application },
        }.Build();

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo slow checkout of lead {Lead}: {Outcome}, {Bought} queued buyer(s) bought it")]
    internal partial void LogRun(Guid lead, string outcome, int bought);
}
