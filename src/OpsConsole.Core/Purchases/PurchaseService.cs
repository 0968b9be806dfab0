using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Polly;
using Polly.Retry;

namespace OpsConsole.Core.Purchases;

/// <summary>Buys leads through the marketplace functions: the path the console's demo traffic, tests and benchmarks use.</summary>
public interface IPurchaseService
{
    /// <summary>
    /// Buys the leads with the buyer's credits as route.ts does, each step its own transaction: validate and reserve
    /// (lock conflicts retried), the pending purchase and its items, then the completion, which re-checks the leads
    /// and charges the items' total once. The measured duration is stored on the purchase row with the completion.
    /// The buyer's user is the workspace's owner (else its oldest user).
    /// </summary>
    Task<PurchaseResult> PurchaseWithCreditsAsync(Guid buyerWorkspaceId, IReadOnlyList<Guid> leadIds, string actor, CancellationToken cancellationToken);

    /// <summary>Reserves the leads for a Stripe checkout and records the pending card purchase with its items.</summary>
    Task<PurchaseResult> ReserveForStripeAsync(Guid buyerWorkspaceId, IReadOnlyList<Guid> leadIds, string actor, CancellationToken cancellationToken);

    /// <summary>
    /// Applies a Stripe payment event to its purchase as the webhook does: completed once, then duplicate (same event)
    /// or already completed (another event); refund required when a lead was sold meanwhile.
    /// </summary>
    Task<PurchaseResult> CompleteStripeAsync(Guid purchaseId, string stripeEventId, string paymentIntentId, CancellationToken cancellationToken);
}

/// <inheritdoc />
public sealed class PurchaseService : IPurchaseService
{
    // Stores what the client measured (earlier steps, retries, back-off) plus the completion's own time, in the
    // completion's transaction: a purchase row is timed when it completes or fails.
    internal const string RecordDurationSql = """
        UPDATE marketplace_purchases SET duration_ms = $2 + extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000
        WHERE id = $1
        RETURNING (SELECT balance FROM workspace_credits WHERE workspace_id = buyer_workspace_id)
        """;

    private const string ConflictAuditSql = """
        INSERT INTO audit_logs (workspace_id, user_id, action, resource_type, metadata, severity)
        VALUES ($1, $2, 'purchase_conflict', 'lead',
                jsonb_build_object('lead_ids', $3::uuid[], 'payment_method', $4::text, 'attempts', $5::int,
                                   'reason', $6::text, 'message', $7::text, 'actor', $8::text, 'source', 'opsconsole'),
                'info')
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly MarketplaceFunctions _functions;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _conflictRetry;

    /// <summary>Creates the service.</summary>
    public PurchaseService(
        NpgsqlDataSource dataSource, MarketplaceFunctions functions, IOptions<PurchaseOptions> options, TimeProvider time, ILogger<PurchaseService> logger)
    {
        _dataSource = dataSource;
        _functions = functions;
        _time = time;
        _conflictRetry = BuildConflictRetry(options.Value, time, logger);
    }

    /// <inheritdoc />
    public Task<PurchaseResult> PurchaseWithCreditsAsync(
        Guid buyerWorkspaceId, IReadOnlyList<Guid> leadIds, string actor, CancellationToken cancellationToken) =>
        BuyAsync(buyerWorkspaceId, leadIds, PaymentMethod.Credits, actor, cancellationToken);

    /// <inheritdoc />
    public Task<PurchaseResult> ReserveForStripeAsync(
        Guid buyerWorkspaceId, IReadOnlyList<Guid> leadIds, string actor, CancellationToken cancellationToken) =>
        BuyAsync(buyerWorkspaceId, leadIds, PaymentMethod.Stripe, actor, cancellationToken);

    /// <inheritdoc />
    public async Task<PurchaseResult> CompleteStripeAsync(
        Guid purchaseId, string stripeEventId, string paymentIntentId, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var attempts = 0;
        try
        {
            var completion = await _conflictRetry.ExecuteAsync(async ct =>
            {
                attempts++;
                return await _functions.CompleteStripePurchaseAsync(purchaseId, stripeEventId, paymentIntentId, ct);
            }, cancellationToken);
            return new PurchaseResult(completion.Outcome, purchaseId, null, null, attempts, _time.GetElapsedTime(started));
        }
        catch (MarketplaceException refusal)
        {
            // A webhook is not a buyer's purchase attempt: its refusal is answered, not counted as a purchase conflict.
            return new PurchaseResult(refusal.Outcome, purchaseId, null, null, attempts, _time.GetElapsedTime(started), refusal.Message);
        }
    }

    private async Task<PurchaseResult> BuyAsync(
        Guid buyerWorkspaceId, IReadOnlyList<Guid> leadIds, PaymentMethod method, string actor, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var attempts = 0;
        var buyerUserId = await _functions.BuyerUserAsync(buyerWorkspaceId, cancellationToken);
        if (buyerUserId is null)
        {
            return new PurchaseResult(PurchaseOutcome.InvalidInput, null, null, null, 0, _time.GetElapsedTime(started),
                $"Workspace {buyerWorkspaceId} has no user to buy as (marketplace_purchases.buyer_user_id is required); nothing was reserved.");
        }

        IReadOnlyList<LockedLead> locked;
        try
        {
            locked = await _conflictRetry.ExecuteAsync(async ct =>
            {
                attempts++;
                return await _functions.ValidateAndLockLeadsAsync(leadIds, buyerWorkspaceId, ct);
            }, cancellationToken);
        }
        catch (MarketplaceException refusal)
        {
            if (refusal.Outcome == PurchaseOutcome.Conflict)
            {
                await AuditConflictAsync(refusal, buyerWorkspaceId, buyerUserId.Value, leadIds, method, actor, attempts, cancellationToken);
            }

            return new PurchaseResult(refusal.Outcome, null, null, null, attempts, _time.GetElapsedTime(started), refusal.Message);
        }

        var purchase = await PendingPurchaseAsync(buyerWorkspaceId, buyerUserId.Value, method, locked, cancellationToken);
        Guid purchaseId;
        try
        {
            purchaseId = await _functions.CreatePendingPurchaseAsync(purchase, _time.GetUtcNow().UtcDateTime, cancellationToken);
        }
        catch (MarketplaceException refusal)
        {
            return new PurchaseResult(refusal.Outcome, null, null, null, attempts, _time.GetElapsedTime(started), refusal.Message);
        }

        if (method == PaymentMethod.Stripe)
        {
            return new PurchaseResult(PurchaseOutcome.Reserved, purchaseId, purchase.TotalPrice, null, attempts, _time.GetElapsedTime(started));
        }

        try
        {
            var (completion, balance) = await CompleteCreditTimedAsync(purchaseId, buyerWorkspaceId, purchase.TotalPrice, _time.GetElapsedTime(started), cancellationToken);
            return new PurchaseResult(completion.Outcome, purchaseId, purchase.TotalPrice, balance, attempts, _time.GetElapsedTime(started),
                completion.Outcome is PurchaseOutcome.Completed ? null : completion.ErrorMessage);
        }
        catch (MarketplaceException refusal)
        {
            return new PurchaseResult(refusal.Outcome, purchaseId, purchase.TotalPrice, null, attempts, _time.GetElapsedTime(started), refusal.Message);
        }
    }

    // route.ts: the price of each lead is its marketplace_price (0.05 when unset), the commission its partner's.
    private async Task<PendingPurchase> PendingPurchaseAsync(
        Guid buyerWorkspaceId, Guid buyerUserId, PaymentMethod method, IReadOnlyList<LockedLead> locked, CancellationToken cancellationToken)
    {
        var partners = await _functions.PartnersAsync(locked.Where(l => l.PartnerId is not null).Select(l => l.PartnerId!.Value), cancellationToken);
        var now = _time.GetUtcNow().UtcDateTime;
        var items = locked.Select(lead =>
        {
            var price = lead.MarketplacePrice is { } p && p != 0 ? p : DefaultPrice;
            var commission = lead.PartnerId is { } partnerId && partners.TryGetValue(partnerId, out var partner)
                ? Commission.For(price, partner, lead.CreatedAt, now)
                : null;
            return new PendingItem(lead.Id, price, lead.IntentScoreCalculated, lead.FreshnessScore, lead.PartnerId, commission);
        }).ToArray();
        return new PendingPurchase(buyerWorkspaceId, buyerUserId, method, items);
    }

    /// <summary>The price route.ts charges for a lead without a marketplace_price.</summary>
    public const decimal DefaultPrice = 0.05m;

    private async Task<(CreditCompletion Completion, decimal? Balance)> CompleteCreditTimedAsync(
        Guid purchaseId, Guid workspaceId, decimal amount, TimeSpan elapsedBefore, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // Without BEGIN/COMMIT a batch is one implicit transaction: the duration commits with the completion.
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(MarketplaceFunctions.CompleteCreditSql)
                {
                    Parameters = { new() { Value = purchaseId }, new() { Value = workspaceId }, new() { Value = amount } },
                },
                new NpgsqlBatchCommand(RecordDurationSql)
                {
                    Parameters = { new() { Value = purchaseId }, new() { Value = (decimal)elapsedBefore.TotalMilliseconds } },
                },
            },
        };
        try
        {
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            var completion = await MarketplaceFunctions.ReadCreditCompletionAsync(reader, purchaseId, cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            decimal? balance = await reader.ReadAsync(cancellationToken) && !reader.IsDBNull(0) ? reader.GetDecimal(0) : null;
            // Drain the rest so a late error surfaces here, not at dispose.
            while (await reader.NextResultAsync(cancellationToken))
            {
            }

            return (completion, balance);
        }
        catch (PostgresException error) when (MarketplaceErrors.Translate(error) is { } refusal)
        {
            throw refusal;
        }
    }

    private async Task AuditConflictAsync(
        MarketplaceException refusal, Guid buyerWorkspaceId, Guid buyerUserId, IReadOnlyList<Guid> leadIds, PaymentMethod method,
        string actor, int attempts, CancellationToken cancellationToken)
    {
        var reason = refusal.IsLockNotAvailable ? "lock_not_available" : "lead_not_available";
        await using var command = _dataSource.CreateCommand(ConflictAuditSql);
        command.Parameters.Add(new() { Value = buyerWorkspaceId });
        command.Parameters.Add(new() { Value = buyerUserId });
        command.Parameters.Add(new() { Value = leadIds.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = method.ToSql() });
        command.Parameters.Add(new() { Value = attempts });
        command.Parameters.Add(new() { Value = reason });
        command.Parameters.Add(new() { Value = refusal.Message });
        command.Parameters.Add(new() { Value = actor });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The purchase path's retry of lock conflicts (55P03), for other callers of the marketplace functions.</summary>
    internal static ResiliencePipeline BuildConflictRetry(PurchaseOptions options, TimeProvider time, ILogger logger)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (options.MaxConflictRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<MarketplaceException>(e => e.IsLockNotAvailable),
                MaxRetryAttempts = options.MaxConflictRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.ConflictRetryBaseDelay,
                MaxDelay = options.ConflictRetryMaxDelay,
                OnRetry = args =>
                {
                    logger.LogDebug("Lock conflict on attempt {Attempt}; retrying in {Delay} ms",
                        args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds);
                    return ValueTask.CompletedTask;
                },
            });
        }

        return builder.Build();
    }

}
