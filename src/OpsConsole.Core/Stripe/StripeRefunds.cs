using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Database;
using Stripe;

namespace OpsConsole.Core.Stripe;

/// <summary>A purchase whose card payment must be refunded, with its latest refund attempt.</summary>
/// <param name="PurchaseId">The purchase.</param>
/// <param name="BuyerWorkspaceId">Its buyer.</param>
/// <param name="BuyerName">The buyer's workspace name.</param>
/// <param name="TotalPrice">What the card paid.</param>
/// <param name="PaymentIntentId">The payment to refund.</param>
/// <param name="CreatedAt">When the purchase was reserved.</param>
/// <param name="FlaggedAt">When the late payment put it here.</param>
/// <param name="RefundId">Stripe's refund, once issued.</param>
/// <param name="RefundStatus">Stripe's status of that refund.</param>
/// <param name="RefundedAt">When the refund was issued.</param>
/// <param name="RefundedBy">Who issued it.</param>
/// <param name="LastError">Stripe's words of the latest failed attempt, when the latest attempt failed.</param>
public sealed record RefundQueueEntry(
    Guid PurchaseId,
    Guid BuyerWorkspaceId,
    string? BuyerName,
    decimal TotalPrice,
    string? PaymentIntentId,
    DateTimeOffset CreatedAt,
    DateTimeOffset FlaggedAt,
    string? RefundId,
    string? RefundStatus,
    DateTimeOffset? RefundedAt,
    string? RefundedBy,
    string? LastError)
{
    /// <summary>True once Stripe returned a refund for it.</summary>
    public bool Refunded => RefundId is not null;
}

/// <summary>A refund Stripe issued.</summary>
/// <param name="PurchaseId">The purchase refunded.</param>
/// <param name="RefundId">Stripe's refund id.</param>
/// <param name="Status">Stripe's status (<c>succeeded</c>, <c>pending</c>, ...).</param>
/// <param name="AmountMinor">Amount in the currency's minor unit.</param>
/// <param name="Currency">Currency.</param>
/// <param name="AlreadyIssued">True when an earlier click had issued it (Stripe answered the same refund again).</param>
public sealed record IssuedRefund(Guid PurchaseId, string RefundId, string? Status, long AmountMinor, string? Currency, bool AlreadyIssued);

/// <summary>
/// The refund queue: purchases in <c>refund_required</c>. Support or admin issue the refund with Stripe.net's
/// <see cref="RefundService"/>, with an idempotency key derived from the purchase id, so a double click, two people
/// or a retry never refund twice. The attempt is recorded in <c>ops.stripe_refunds</c> and an issued refund also as an
/// <c>audit_logs</c> row <c>refund_issued</c>; nothing is marked refunded unless Stripe returned a refund.
/// </summary>
public sealed class StripeRefunds(StripeApi api, OpsTransactions transactions, NpgsqlDataSource dataSource, ILogger<StripeRefunds> logger)
{
    /// <summary>The idempotency key of a purchase's refund: the same for every attempt.</summary>
    public static string IdempotencyKey(Guid purchaseId) => $"opsconsole-refund-{purchaseId:N}";

    /// <summary>Purchases waiting for a refund first, then the refunded ones (newest first).</summary>
    public async Task<IReadOnlyList<RefundQueueEntry>> QueueAsync(int limit, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT p.id AS PurchaseId, p.buyer_workspace_id AS BuyerWorkspaceId, w.name AS BuyerName, p.total_price AS TotalPrice,
                   p.stripe_payment_intent_id AS PaymentIntentId, p.created_at AS CreatedAt, p.updated_at AS FlaggedAt,
                   issued.refund_id AS RefundId, issued.refund_status AS RefundStatus, issued.created_at AS RefundedAt,
                   issued.actor AS RefundedBy,
                   CASE WHEN latest.outcome = 'error' THEN latest.error_message END AS LastError
            FROM marketplace_purchases AS p
            LEFT JOIN workspaces AS w ON w.id = p.buyer_workspace_id
            LEFT JOIN ops.stripe_refunds AS issued ON issued.purchase_id = p.id AND issued.outcome = 'issued'
            LEFT JOIN LATERAL (SELECT r.outcome, r.error_message FROM ops.stripe_refunds AS r
                               WHERE r.purchase_id = p.id ORDER BY r.id DESC LIMIT 1) AS latest ON true
            WHERE p.status = 'refund_required'
            ORDER BY issued.refund_id IS NOT NULL, p.created_at DESC
            LIMIT @Limit
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<QueueRow>(new CommandDefinition(sql, new { Limit = limit }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToEntry()).ToList();
    }

    /// <summary>
    /// Refunds the card payment of <paramref name="purchaseId"/> in full. Refused (nothing recorded) without the
    /// permission, an API key, or when the purchase is not waiting for a refund; a Stripe error is recorded and
    /// returned as Stripe worded it.
    /// </summary>
    public async Task<OpsResult<IssuedRefund>> IssueAsync(OpsActor actor, Guid purchaseId, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.ManagePayments) is { } refusal)
        {
            return refusal;
        }

        var refunds = api.Refunds();
        if (refunds is null)
        {
            return Refusal.Rule("Refunds need the Stripe API: set Stripe:ApiKey.");
        }

        var purchase = await FindAsync(purchaseId, cancellationToken);
        if (purchase is null)
        {
            return Refusal.NotFound($"Purchase {purchaseId} does not exist.");
        }

        if (purchase.Status != "refund_required")
        {
            return Refusal.Conflict($"Purchase {purchaseId} is {purchase.Status}, not waiting for a refund.");
        }

        if (purchase.IssuedRefundId is { } existing)
        {
            return Refusal.Conflict($"Purchase {purchaseId} was refunded already (Stripe refund {existing}).");
        }

        if (string.IsNullOrEmpty(purchase.PaymentIntentId))
        {
            return Refusal.Rule($"Purchase {purchaseId} names no payment intent, so there is nothing to refund through Stripe.");
        }

        var key = IdempotencyKey(purchaseId);
        Refund refund;
        try
        {
            // Parameters must be identical on every attempt: Stripe refuses a reused key with other parameters.
            refund = await refunds.CreateAsync(
                new RefundCreateOptions
                {
                    PaymentIntent = purchase.PaymentIntentId,
                    Metadata = new Dictionary<string, string> { [StripeEventApplier.PurchaseIdKey] = purchaseId.ToString() },
                },
                new RequestOptions { IdempotencyKey = key },
                cancellationToken);
        }
        catch (Exception error) when (error is StripeException or HttpRequestException || error is TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var stripeError = (error as StripeException)?.StripeError;
            var message = stripeError?.Message is { Length: > 0 } worded ? worded : error.Message;
            return await RecordErrorAsync(stripeError?.Code, message);
        }

        if (refund.Status is "failed" or "canceled")
        {
            return await RecordErrorAsync(refund.FailureReason, $"Refund {refund.Id} is {refund.Status}" + (refund.FailureReason is { } reason ? $" ({reason})." : "."));
        }

        return await transactions.RunAsync<IssuedRefund>(async tx =>
        {
            // A concurrent click got the same refund from Stripe (same idempotency key): only one row, one audit entry.
            var inserted = await tx.ExecuteAsync("""
                INSERT INTO ops.stripe_refunds (purchase_id, payment_intent_id, idempotency_key, outcome, refund_id, refund_status,
                                                amount_minor, currency, actor_id, actor)
                VALUES (@PurchaseId, @PaymentIntentId, @Key, 'issued', @RefundId, @Status, @Amount, @Currency, @ActorId, @Actor)
                ON CONFLICT (purchase_id) WHERE outcome = 'issued' DO NOTHING
                """, new
            {
                PurchaseId = purchaseId,
                purchase.PaymentIntentId,
                Key = key,
                RefundId = refund.Id,
                refund.Status,
                refund.Amount,
                refund.Currency,
                ActorId = actor.Id,
                Actor = actor.AuditName,
            });
            if (inserted == 0)
            {
                return new IssuedRefund(purchaseId, refund.Id, refund.Status, refund.Amount, refund.Currency, AlreadyIssued: true);
            }

            await tx.AuditAsync("refund_issued", purchase.BuyerWorkspaceId, actor, new
            {
                purchaseId,
                paymentIntentId = purchase.PaymentIntentId,
                refundId = refund.Id,
                refundStatus = refund.Status,
                amountMinor = refund.Amount,
                currency = refund.Currency,
                idempotencyKey = key,
            });
            return new IssuedRefund(purchaseId, refund.Id, refund.Status, refund.Amount, refund.Currency, AlreadyIssued: false);
        }, cancellationToken);

        async Task<OpsResult<IssuedRefund>> RecordErrorAsync(string? code, string message)
        {
            logger.LogWarning("Stripe did not refund purchase {PurchaseId}: {Message}", purchaseId, message);
            await transactions.RunAsync(async tx =>
            {
                await tx.ExecuteAsync("""
                    INSERT INTO ops.stripe_refunds (purchase_id, payment_intent_id, idempotency_key, outcome, error_code, error_message, actor_id, actor)
                    VALUES (@PurchaseId, @PaymentIntentId, @Key, 'error', @Code, @Message, @ActorId, @Actor)
                    """, new { PurchaseId = purchaseId, purchase.PaymentIntentId, Key = key, Code = code, Message = message, ActorId = actor.Id, Actor = actor.AuditName });
                return OpsResult.Ok;
            }, cancellationToken);
            return Refusal.Rule($"Stripe did not refund: {message}");
        }
    }

    private async Task<PurchaseRow?> FindAsync(Guid purchaseId, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT p.status AS Status, p.buyer_workspace_id AS BuyerWorkspaceId, p.stripe_payment_intent_id AS PaymentIntentId,
                   (SELECT r.refund_id FROM ops.stripe_refunds AS r WHERE r.purchase_id = p.id AND r.outcome = 'issued') AS IssuedRefundId
            FROM marketplace_purchases AS p WHERE p.id = @Id
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<PurchaseRow>(new CommandDefinition(sql, new { Id = purchaseId }, cancellationToken: cancellationToken));
    }

    private sealed class PurchaseRow
    {
        public string Status { get; init; } = "";

        public Guid BuyerWorkspaceId { get; init; }

        public string? PaymentIntentId { get; init; }

        public string? IssuedRefundId { get; init; }
    }

    private sealed class QueueRow
    {
        public Guid PurchaseId { get; init; }

        public Guid BuyerWorkspaceId { get; init; }

        public string? BuyerName { get; init; }

        public decimal TotalPrice { get; init; }

        public string? PaymentIntentId { get; init; }

        public DateTime CreatedAt { get; init; }

        public DateTime FlaggedAt { get; init; }

        public string? RefundId { get; init; }

        public string? RefundStatus { get; init; }

        public DateTime? RefundedAt { get; init; }

        public string? RefundedBy { get; init; }

        public string? LastError { get; init; }

        public RefundQueueEntry ToEntry() => new(PurchaseId, BuyerWorkspaceId, BuyerName, TotalPrice, PaymentIntentId, Utc(CreatedAt), Utc(FlaggedAt),
            RefundId, RefundStatus, RefundedAt is { } at ? Utc(at) : null, RefundedBy, LastError);

        private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
    }
}
