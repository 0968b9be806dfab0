using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace OpsConsole.Core.Demo;

/// <summary>One slow checkout: who holds the lead, who queues behind, and for how long.</summary>
/// <param name="Lead">The lead they all reach for.</param>
/// <param name="SlowBuyer">The buyer whose checkout holds the lead's row lock.</param>
/// <param name="QueuedBuyers">Buyers whose checkouts wait for the same row, one behind the other.</param>
/// <param name="Hold">How long the slow checkout holds the lock.</param>
public sealed record SlowCheckoutPlan(Guid Lead, Guid SlowBuyer, IReadOnlyList<Guid> QueuedBuyers, TimeSpan Hold);

/// <summary>How a slow checkout ended.</summary>
/// <param name="SlowCheckout">completed, or what stopped it (cancelled, terminated...).</param>
/// <param name="QueuedPurchases">For each queued buyer, the purchase it completed, or null when the lead was gone by its turn.</param>
public sealed record SlowCheckoutOutcome(string SlowCheckout, IReadOnlyList<Guid?> QueuedPurchases);

/// <summary>
/// The lock views' part of the demo, run as the "slow checkout" incident scenario (<see cref="DemoScenarios"/>): a demo
/// buyer's checkout reserves a lead and then stalls ("waiting for the card network") holding the lead's row lock,
/// while two more demo buyers' checkouts queue for that row (<c>SELECT … FOR UPDATE</c>, which waits where the purchase functions' <c>NOWAIT</c> would give
/// up), the second behind the first. <c>/locks</c> then shows a tree with the lead named, and an engineer can practise
/// cancel and terminate: either frees the lead, and the first queued buyer buys it. Its sessions use application
/// names of their own, so the console does not take them for its own sessions.
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
        // The queued buyers wait with SELECT ... FOR UPDATE, which needs UPDATE on leads: the runtime role has not got
        // it (it writes leads only through the functions), so they queue as the owner, as the demo's seed writes.
        await using var queuedSource = Source(QueuedBuyerApplication, ServiceCollectionExtensions.MigrationsConnectionStringName);
        await using var slow = await slowSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await slow.BeginTransactionAsync(cancellationToken);
        var purchase = await slow.QuerySingleAsync<Guid>(new CommandDefinition(
            "SELECT purchase_id FROM validate_and_lock_leads_for_purchase(@Buyer, ARRAY[@Lead]::uuid[], 'credits')",
            new { Buyer = plan.SlowBuyer, plan.Lead }, transaction, cancellationToken: cancellationToken));

        // Queued in order: each starts once the one before it waits, so the second queues behind the first.
        var queued = new List<Task<Guid?>>();
        foreach (var buyer in plan.QueuedBuyers)
        {
            var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            queued.Add(QueueAsync(queuedSource, buyer, plan.Lead, plan.Hold, waiting, cancellationToken));
            await waiting.Task.WaitAsync(TimeSpan.FromSeconds(5), time, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        string outcome;
        try
        {
            await slow.ExecuteAsync(new CommandDefinition(
                "SELECT pg_sleep(@Seconds) /* demo: the card network is slow */", new { Seconds = plan.Hold.TotalSeconds }, transaction,
                commandTimeout: (int)plan.Hold.TotalSeconds + 30, cancellationToken: cancellationToken));
            await slow.ExecuteAsync(new CommandDefinition(
                "SELECT * FROM complete_credit_lead_purchase(@Purchase)", new { Purchase = purchase }, transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            outcome = "completed";
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

    /// <summary>
    /// A plan for one slow checkout: a lead of the pool and three buyers other than its seller (the first holds it),
    /// or null when the pool or the buyers do not allow one.
    /// </summary>
    public async Task<SlowCheckoutPlan?> PlanAsync(DemoLeadPool pool, TimeSpan hold, CancellationToken cancellationToken)
    {
        var buyers = (await market.GetBuyerBalancesAsync(cancellationToken)).Where(b => b.Balance >= DemoTrafficService.MinBuyerBalance).ToList();
        if (buyers.Count < 3)
        {
            return null;
        }

        var lead = pool.TakeLeads(1, Guid.Empty);
        if (lead.Count == 0)
        {
            return null;
        }

        var others = buyers.Select(b => b.Id).Where(b => b != lead[0].SellerId).OrderBy(_ => Random.Shared.Next()).Take(3).ToList();
        return others.Count < 3 ? null : new SlowCheckoutPlan(lead[0].Id, others[0], others[1..], hold);
    }

    // A checkout that waits for the lead's row (until 30 s after the hold would end), then buys it if it is still available.
    private static async Task<Guid?> QueueAsync(
        NpgsqlDataSource source, Guid buyer, Guid lead, TimeSpan hold, TaskCompletionSource waiting, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await source.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var patience = hold + TimeSpan.FromSeconds(30);
            await connection.ExecuteAsync(new CommandDefinition(
                "SELECT set_config('lock_timeout', @Timeout, true)", new { Timeout = $"{(long)patience.TotalMilliseconds}ms" }, transaction, cancellationToken: cancellationToken));
            var locking = connection.ExecuteAsync(new CommandDefinition(
                "SELECT 1 FROM leads WHERE id = @Lead FOR UPDATE", new { Lead = lead }, transaction, commandTimeout: (int)patience.TotalSeconds + 30, cancellationToken: cancellationToken));
            _ = Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken).ContinueWith(_ => waiting.TrySetResult(), TaskScheduler.Default);
            await locking;
            var status = await connection.QuerySingleAsync<string>(new CommandDefinition(
                "SELECT marketplace_status FROM leads WHERE id = @Lead", new { Lead = lead }, transaction, cancellationToken: cancellationToken));
            if (status != "available")
            {
                return null;
            }

            var purchase = await connection.QuerySingleAsync<Guid>(new CommandDefinition(
                "SELECT purchase_id FROM validate_and_lock_leads_for_purchase(@Buyer, ARRAY[@Lead]::uuid[], 'credits')",
                new { Buyer = buyer, Lead = lead }, transaction, cancellationToken: cancellationToken));
            var completed = await connection.QuerySingleAsync<string>(new CommandDefinition(
                "SELECT status FROM complete_credit_lead_purchase(@Purchase)", new { Purchase = purchase }, transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            return completed == "completed" ? purchase : null;
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
