using System.Globalization;
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
    /// Reserves and pays the leads from the buyer's credits in one transaction (one round trip, one commit),
    /// retrying lock conflicts. The measured duration is stored on the purchase row in that same transaction.
    /// </summary>
    Task<PurchaseResult> PurchaseWithCreditsAsync(Guid buyerWorkspaceId, IReadOnlyList<Guid> leadIds, string actor, CancellationToken cancellationToken);

    /// <summary>Reserves the leads for a Stripe checkout (committed at once, so the checkout can take its time).</summary>
    Task<PurchaseResult> ReserveForStripeAsync(Guid buyerWorkspaceId, IReadOnlyList<Guid> leadIds, string actor, CancellationToken cancellationToken);

    /// <summary>Applies a Stripe payment event to its purchase: completed once, then duplicate or already completed.</summary>
    Task<PurchaseResult> CompleteStripeAsync(Guid purchaseId, string stripeEventId, string paymentIntentId, CancellationToken cancellationToken);
}

/// <inheritdoc />
public sealed class PurchaseService : IPurchaseService
{
    // One statement reserves and completes: the reservation's purchase id feeds the completion without a
    // round trip.
    internal const string CreditPurchaseSql = """
        SELECT c.purchase_id, c.status, c.buyer_balance, v.total_price
        FROM validate_and_lock_leads_for_purchase($1, $2, 'credits') AS v
        CROSS JOIN LATERAL complete_credit_lead_purchase(v.purchase_id) AS c
        """;

    // The actor for the audit rows, and what the client measured before this attempt's batch (earlier
    // attempts, back-off, opening the connection): complete_credit_lead_purchase adds the time since the
    // transaction began (now()) and stores the sum as duration_ms in the UPDATE that completes (or fails) the
    // purchase, so the row is written once more, not twice (migration 0025).
    internal const string SetActorSql = """
        SELECT set_config('marketplace.actor', $1, true),
               set_config('opsconsole.purchase_elapsed_ms', $2, true)
        """;

    private const string ConflictAuditSql = """
        INSERT INTO audit_logs (action, workspace_id, actor, details)
        VALUES ('purchase_conflict', $1, $2,
                jsonb_build_object('lead_ids', $3::uuid[], 'payment_method', $4::text, 'attempts', $5::int,
                                   'reason', $6::text, 'message', $7::text))
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
        RetryingConflictsAsync(
            (elapsed, ct) => CreditPurchaseOnceAsync(buyerWorkspaceId, leadIds, actor, elapsed, ct),
            (row, attempts, elapsed) => new PurchaseResult(row.Outcome, row.PurchaseId, row.TotalPrice, row.BuyerBalance, attempts, elapsed),
            (refusal, attempts, started) => RefusedAsync(refusal, buyerWorkspaceId, leadIds, PaymentMethod.Credits, actor, attempts, started, cancellationToken),
            cancellationToken);

    /// <inheritdoc />
    public Task<PurchaseResult> ReserveForStripeAsync(
        Guid buyerWorkspaceId, IReadOnlyList<Guid> leadIds, string actor, CancellationToken cancellationToken) =>
        RetryingConflictsAsync(
            (_, ct) => _functions.ValidateAndLockLeadsAsync(buyerWorkspaceId, leadIds, PaymentMethod.Stripe, ct),
            (reservation, attempts, elapsed) => new PurchaseResult(PurchaseOutcome.Reserved, reservation.PurchaseId, reservation.TotalPrice, null, attempts, elapsed),
            (refusal, attempts, started) => RefusedAsync(refusal, buyerWorkspaceId, leadIds, PaymentMethod.Stripe, actor, attempts, started, cancellationToken),
            cancellationToken);

    /// <inheritdoc />
    public Task<PurchaseResult> CompleteStripeAsync(
        Guid purchaseId, string stripeEventId, string paymentIntentId, CancellationToken cancellationToken) =>
        RetryingConflictsAsync(
            (_, ct) => _functions.CompleteStripePurchaseAsync(purchaseId, stripeEventId, paymentIntentId, ct),
            (completion, attempts, elapsed) => new PurchaseResult(completion.Outcome, completion.PurchaseId, null, null, attempts, elapsed),
            // A webhook is not a buyer's purchase attempt: its refusal is answered, not counted as a purchase conflict.
            (refusal, attempts, started) => Task.FromResult(
                new PurchaseResult(refusal.Outcome, purchaseId, null, null, attempts, _time.GetElapsedTime(started), refusal.Message)),
            cancellationToken);

    // One call under the conflict retry, timed from the first try (started, a timestamp, goes to the refusal's answer).
    private async Task<PurchaseResult> RetryingConflictsAsync<T>(
        Func<TimeSpan, CancellationToken, Task<T>> attempt,
        Func<T, int, TimeSpan, PurchaseResult> answer,
        Func<MarketplaceException, int, long, Task<PurchaseResult>> refused,
        CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var attempts = 0;
        try
        {
            var outcome = await _conflictRetry.ExecuteAsync(async ct =>
            {
                attempts++;
                return await attempt(_time.GetElapsedTime(started), ct);
            }, cancellationToken);
            return answer(outcome, attempts, _time.GetElapsedTime(started));
        }
        catch (MarketplaceException refusal)
        {
            return await refused(refusal, attempts, started);
        }
    }

    private async Task<CreditRow> CreditPurchaseOnceAsync(
        Guid buyerWorkspaceId, IReadOnlyList<Guid> leadIds, string actor, TimeSpan elapsedBeforeSend, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // Without BEGIN/COMMIT a batch is one implicit transaction, committed at its end: one round trip.
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(SetActorSql)
                {
                    Parameters =
                    {
                        new() { Value = actor },
                        new() { Value = elapsedBeforeSend.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) },
                    },
                },
                new NpgsqlBatchCommand(CreditPurchaseSql)
                {
                    Parameters =
                    {
                        new() { Value = buyerWorkspaceId },
                        new() { Value = leadIds.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
                    },
                },
            },
        };

        try
        {
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken); // past set_config
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw new InvalidOperationException("The credit purchase returned no row.");
            }

            var row = new CreditRow(
                reader.GetGuid(0),
                MarketplaceErrors.OutcomeForStatus(reader.GetString(1)),
                reader.IsDBNull(2) ? null : reader.GetDecimal(2),
                reader.GetDecimal(3));
            // Drain the remaining results so a late error surfaces here, not at dispose.
            while (await reader.NextResultAsync(cancellationToken))
            {
            }

            return row;
        }
        catch (PostgresException error) when (MarketplaceErrors.Translate(error) is { } refusal)
        {
            throw refusal;
        }
    }

    private async Task<PurchaseResult> RefusedAsync(
        MarketplaceException refusal, Guid buyerWorkspaceId, IReadOnlyList<Guid> leadIds, PaymentMethod method,
        string actor, int attempts, long started, CancellationToken cancellationToken)
    {
        if (refusal.Outcome == PurchaseOutcome.Conflict)
        {
            var reason = refusal.IsLockNotAvailable ? "lock_not_available" : "lead_not_available";
            await using var command = _dataSource.CreateCommand(ConflictAuditSql);
            command.Parameters.Add(new() { Value = buyerWorkspaceId });
            command.Parameters.Add(new() { Value = actor });
            command.Parameters.Add(new() { Value = leadIds.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
            command.Parameters.Add(new() { Value = method.ToSql() });
            command.Parameters.Add(new() { Value = attempts });
            command.Parameters.Add(new() { Value = reason });
            command.Parameters.Add(new() { Value = refusal.Message });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        return new PurchaseResult(refusal.Outcome, null, null, null, attempts, _time.GetElapsedTime(started), refusal.Message);
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

    private sealed record CreditRow(Guid PurchaseId, PurchaseOutcome Outcome, decimal? BuyerBalance, decimal TotalPrice);
}
