using System.Text.Json;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using OpsConsole.Core.Database;

namespace OpsConsole.Core.Purchases;

/// <summary>A pending purchase that holds its leads (a card checkout waiting for its payment).</summary>
public sealed record LeadReservation(Guid PurchaseId, decimal TotalPrice, int LeadCount);

/// <summary>One row of <c>validate_and_lock_leads_for_purchase</c>: a lead now reserved for the buyer.</summary>
public sealed record LockedLead(Guid Id, decimal? MarketplacePrice, Guid? PartnerId, DateTime CreatedAt, int? IntentScoreCalculated, int? FreshnessScore);

/// <summary>What <c>complete_credit_lead_purchase</c> answered.</summary>
/// <param name="PurchaseId">The purchase.</param>
/// <param name="Outcome">Its meaning (<see cref="MarketplaceErrors.CreditOutcome"/>).</param>
/// <param name="NewCreditBalance">The function's <c>new_credit_balance</c>: the balance rounded down (INTEGER, as the app reads it).</param>
/// <param name="ErrorMessage">The function's <c>error_message</c>.</param>
public sealed record CreditCompletion(Guid PurchaseId, PurchaseOutcome Outcome, int? NewCreditBalance, string? ErrorMessage);

/// <summary>What <c>complete_stripe_lead_purchase</c> answered, with the console's event log around it.</summary>
public sealed record StripeCompletion(Guid PurchaseId, PurchaseOutcome Outcome);

/// <summary>The row <c>complete_stripe_lead_purchase</c> returns.</summary>
public sealed record StripeAnswer(bool Success, bool AlreadyCompleted, Guid[] LeadIdsMarked);

/// <summary>A Stripe event as <c>ops.stripe_webhook_events</c> records it: its id and its type as Stripe named it.</summary>
/// <param name="Id">The event id (<c>evt_...</c>).</param>
/// <param name="Type">Its type (<c>payment_intent.succeeded</c>, <c>checkout.session.completed</c>, ...).</param>
public sealed record StripeEventName(string Id, string Type);

/// <summary>A pending purchase as route.ts inserts it: the purchase row, then one item per lead.</summary>
/// <param name="BuyerWorkspaceId">buyer_workspace_id.</param>
/// <param name="BuyerUserId">buyer_user_id (NOT NULL there).</param>
/// <param name="Method">payment_method.</param>
/// <param name="Items">The items, whose prices sum to total_price.</param>
public sealed record PendingPurchase(Guid BuyerWorkspaceId, Guid BuyerUserId, PaymentMethod Method, IReadOnlyList<PendingItem> Items)
{
    /// <summary>total_price: the items' total.</summary>
    public decimal TotalPrice => Items.Sum(i => i.PriceAtPurchase);
}

/// <summary>One marketplace_purchase_items row before insert.</summary>
public sealed record PendingItem(Guid LeadId, decimal PriceAtPurchase, int? IntentScore, int? FreshnessScore, Guid? PartnerId, ItemCommission? Commission);

/// <summary>
/// The marketplace's purchase functions (the drop-in, <c>supabase/migrations/20260206000001_fix_payment_race_conditions.sql</c>)
/// and the inserts route.ts makes between them: every SQL call of the purchase path is named here, one call per
/// method, each its own transaction as the app's RPCs are. Business refusals come back as
/// <see cref="MarketplaceException"/>; lock conflicts are not retried here (see <see cref="PurchaseService"/>).
/// </summary>
public sealed class MarketplaceFunctions(NpgsqlDataSource dataSource)
{
    /// <summary>The validate call, with route.ts's argument names.</summary>
    internal const string ValidateSql = """
        SELECT id, marketplace_price, partner_id, created_at, intent_score_calculated, freshness_score
        FROM validate_and_lock_leads_for_purchase(p_lead_ids := $1, p_buyer_workspace_id := $2)
        """;

    /// <summary>The credit completion, with route.ts's argument names.</summary>
    internal const string CompleteCreditSql = """
        SELECT success, new_credit_balance, error_message
        FROM complete_credit_lead_purchase(p_purchase_id := $1, p_workspace_id := $2, p_credit_amount := $3)
        """;

    /// <summary>The webhook's completion, with its argument names.</summary>
    internal const string CompleteStripeSql = """
        SELECT success, already_completed, lead_ids_marked
        FROM complete_stripe_lead_purchase(p_purchase_id := $1, p_download_url := $2)
        """;

    // The purchase and its items in one statement, so no purchase is left without its items. The items come as
    // JSON, the way PostgREST hands the app's insert to PostgreSQL.
    private const string InsertPurchaseSql = """
        WITH purchase AS (
            INSERT INTO marketplace_purchases
                (buyer_workspace_id, buyer_user_id, total_leads, total_price, payment_method, credits_used, card_amount, status)
            VALUES ($1, $2, $3, $4, $5, $6, 0, 'pending')
            RETURNING id),
        items AS (
            INSERT INTO marketplace_purchase_items
                (purchase_id, lead_id, price_at_purchase, intent_score_at_purchase, freshness_score_at_purchase,
                 partner_id, commission_rate, commission_amount, commission_bonuses, commission_status, commission_payable_at)
            SELECT purchase.id, i.lead_id, i.price_at_purchase, i.intent_score_at_purchase, i.freshness_score_at_purchase,
                   i.partner_id, i.commission_rate, i.commission_amount, coalesce(i.commission_bonuses, '[]'),
                   i.commission_status, i.commission_payable_at
            FROM purchase, jsonb_populate_recordset(NULL::marketplace_purchase_items, $7) AS i)
        SELECT id FROM purchase
        """;

    private const string PartnersSql = """
        SELECT id AS Id, base_commission_rate AS BaseCommissionRate, bonus_commission_rate AS BonusCommissionRate,
               verification_pass_rate AS VerificationPassRate
        FROM partners WHERE id = ANY(@Ids)
        """;

    // The user a workspace buys as when the caller names only the workspace: its owner, else its oldest user.
    private const string BuyerUserSql = """
        SELECT id FROM users WHERE workspace_id = $1 ORDER BY (role = 'owner') DESC, created_at, id LIMIT 1
        """;

    // First delivery of an event id inserts it; a repeat counts a delivery and moves last_received_at. The purchase's
    // payment method comes back with it: complete_stripe_lead_purchase does not look at it, and a card payment must
    // never complete a credit purchase.
    private const string RecordEventSql = """
        WITH recorded AS (
            INSERT INTO ops.stripe_webhook_events (event_id, type, purchase_id, payment_intent_id)
            VALUES ($1, $4, $2, $3)
            ON CONFLICT (event_id) DO UPDATE SET deliveries = ops.stripe_webhook_events.deliveries + 1, last_received_at = now()
            RETURNING deliveries)
        SELECT recorded.deliveries, (SELECT p.payment_method FROM marketplace_purchases AS p WHERE p.id = $2)
        FROM recorded
        """;

    /// <summary><c>validate_and_lock_leads_for_purchase</c>: locks and reserves the leads for the buyer; one row per lead.</summary>
    public async Task<IReadOnlyList<LockedLead>> ValidateAndLockLeadsAsync(
        IReadOnlyList<Guid> leadIds, Guid buyerWorkspaceId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(ValidateSql, connection)
        {
            Parameters =
            {
                new() { Value = leadIds.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
                new() { Value = buyerWorkspaceId },
            },
        };
        return await TranslateAsync(async () =>
        {
            List<LockedLead> rows = [];
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(new LockedLead(
                    reader.GetGuid(0), reader.IsDBNull(1) ? null : reader.GetDecimal(1), reader.IsDBNull(2) ? null : reader.GetGuid(2),
                    reader.GetDateTime(3), reader.IsDBNull(4) ? null : reader.GetInt32(4), reader.IsDBNull(5) ? null : reader.GetInt32(5)));
            }

            return (IReadOnlyList<LockedLead>)rows;
        });
    }

    /// <summary>The partners' commission rates, by id.</summary>
    public async Task<IReadOnlyDictionary<Guid, PartnerRates>> PartnersAsync(IEnumerable<Guid> partnerIds, CancellationToken cancellationToken)
    {
        var ids = partnerIds.Distinct().ToArray();
        if (ids.Length == 0)
        {
            return new Dictionary<Guid, PartnerRates>();
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<PartnerRates>(new CommandDefinition(PartnersSql, new { Ids = ids }, cancellationToken: cancellationToken));
        return rows.ToDictionary(p => p.Id);
    }

    /// <summary>The user a workspace buys as (its owner, else its oldest user), or null when it has none.</summary>
    public async Task<Guid?> BuyerUserAsync(Guid workspaceId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(BuyerUserSql);
        command.Parameters.Add(new() { Value = workspaceId });
        return await command.ExecuteScalarAsync(cancellationToken) as Guid?;
    }

    /// <summary>Inserts the pending purchase and its items (route.ts's two inserts, here one statement); returns its id.</summary>
    public async Task<Guid> CreatePendingPurchaseAsync(PendingPurchase purchase, DateTime saleDate, CancellationToken cancellationToken)
    {
        var payableAt = saleDate.Add(Commission.Holdback);
        var items = JsonSerializer.Serialize(purchase.Items.Select(i => new Dictionary<string, object?>
        {
            ["lead_id"] = i.LeadId,
            ["price_at_purchase"] = i.PriceAtPurchase,
            ["intent_score_at_purchase"] = i.IntentScore,
            ["freshness_score_at_purchase"] = i.FreshnessScore,
            ["partner_id"] = i.Commission is null ? null : i.PartnerId,
            ["commission_rate"] = i.Commission?.Rate,
            ["commission_amount"] = i.Commission?.Amount,
            ["commission_bonuses"] = i.Commission?.Bonuses ?? [],
            ["commission_status"] = i.Commission is null ? null : "pending_holdback",
            ["commission_payable_at"] = i.Commission is null ? null : payableAt,
        }));
        await using var command = dataSource.CreateCommand(InsertPurchaseSql);
        command.Parameters.Add(new() { Value = purchase.BuyerWorkspaceId });
        command.Parameters.Add(new() { Value = purchase.BuyerUserId });
        command.Parameters.Add(new() { Value = purchase.Items.Count });
        command.Parameters.Add(new() { Value = purchase.TotalPrice });
        command.Parameters.Add(new() { Value = purchase.Method.ToSql() });
        command.Parameters.Add(new() { Value = purchase.Method == PaymentMethod.Credits ? purchase.TotalPrice : 0m });
        command.Parameters.Add(new() { Value = items, NpgsqlDbType = NpgsqlDbType.Jsonb });
        return await TranslateAsync(async () => (Guid)(await command.ExecuteScalarAsync(cancellationToken))!);
    }

    /// <summary><c>complete_credit_lead_purchase</c>: charges the items' total once, re-checking every lead.</summary>
    public async Task<CreditCompletion> CompleteCreditPurchaseAsync(Guid purchaseId, Guid workspaceId, decimal creditAmount, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CompleteCreditSql);
        command.Parameters.Add(new() { Value = purchaseId });
        command.Parameters.Add(new() { Value = workspaceId });
        command.Parameters.Add(new() { Value = creditAmount });
        return await TranslateAsync(async () =>
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await ReadCreditCompletionAsync(reader, purchaseId, cancellationToken);
        });
    }

    /// <summary>Reads the one row of <see cref="CompleteCreditSql"/>.</summary>
    internal static async Task<CreditCompletion> ReadCreditCompletionAsync(NpgsqlDataReader reader, Guid purchaseId, CancellationToken cancellationToken)
    {
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException("complete_credit_lead_purchase returned no row.");
        }

        var success = reader.GetBoolean(0);
        var error = reader.IsDBNull(2) ? null : reader.GetString(2);
        return new CreditCompletion(purchaseId, MarketplaceErrors.CreditOutcome(success, error), reader.IsDBNull(1) ? null : reader.GetInt32(1), error);
    }

    /// <summary><c>complete_stripe_lead_purchase</c> exactly as the webhook calls it.</summary>
    public async Task<StripeAnswer> CompleteStripePurchaseAsync(Guid purchaseId, string? downloadUrl, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await TranslateAsync(() => CallStripeAsync(connection, null, purchaseId, downloadUrl, cancellationToken));
    }

    /// <summary>The event type recorded when the caller does not name one: the webhook's usual completion event.</summary>
    public const string DefaultStripeEventType = "checkout.session.completed";

    /// <summary>
    /// A Stripe payment event for a purchase: recorded in <c>ops.stripe_webhook_events</c> (as a
    /// <see cref="DefaultStripeEventType"/>), and on its first delivery <c>complete_stripe_lead_purchase</c> as the
    /// webhook calls it, in one transaction.
    /// </summary>
    public Task<StripeCompletion> CompleteStripePurchaseAsync(
        Guid purchaseId, string stripeEventId, string paymentIntentId, CancellationToken cancellationToken) =>
        ApplyStripeEventAsync(purchaseId, stripeEventId, DefaultStripeEventType, paymentIntentId, null, cancellationToken);

    /// <summary>
    /// As <see cref="CompleteStripePurchaseAsync(Guid, string, string, CancellationToken)"/> for <paramref name="stripeEvent"/>
    /// (its type recorded as Stripe named it), followed by <paramref name="record"/> in the same
    /// transaction: the record commits with the completion or not at all, and may read the status word
    /// (<see cref="MarketplaceErrors.StripeStatusWord"/>) as <c>current_setting('marketplace.stripe_status')</c>.
    /// A business error rolls both back.
    /// </summary>
    public Task<StripeCompletion> CompleteStripePurchaseAsync(
        Guid purchaseId, StripeEventName stripeEvent, string paymentIntentId, NpgsqlBatchCommand record, CancellationToken cancellationToken) =>
        ApplyStripeEventAsync(purchaseId, stripeEvent.Id, stripeEvent.Type, paymentIntentId, record, cancellationToken);

    private async Task<StripeCompletion> ApplyStripeEventAsync(
        Guid purchaseId, string stripeEventId, string eventType, string paymentIntentId, NpgsqlBatchCommand? record, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var outcome = await TranslateAsync(async () =>
        {
            await using var recordEvent = new NpgsqlCommand(RecordEventSql, connection, transaction)
            {
                Parameters =
                {
                    new() { Value = stripeEventId }, new() { Value = purchaseId }, new() { Value = paymentIntentId },
                    new() { Value = eventType },
                },
            };
            int deliveries;
            string? method;
            await using (var recorded = await recordEvent.ExecuteReaderAsync(cancellationToken))
            {
                await recorded.ReadAsync(cancellationToken);
                deliveries = recorded.GetInt32(0);
                method = recorded.IsDBNull(1) ? null : recorded.GetString(1);
            }

            if (deliveries > 1)
            {
                return PurchaseOutcome.Duplicate;
            }

            if (method is not null && method != PaymentMethod.Stripe.ToSql())
            {
                // Rolls back the event's record too: nothing about this payment is kept but the caller's log of it.
                throw new MarketplaceException(PurchaseOutcome.Conflict, MarketplaceErrors.NotPayable,
                    $"Purchase {purchaseId} is paid with {method}, not stripe");
            }

            var answer = await CallStripeAsync(connection, transaction, purchaseId, DownloadUrl(purchaseId), cancellationToken);
            string? status = null;
            if (!answer.Success)
            {
                await using var read = new NpgsqlCommand("SELECT status FROM marketplace_purchases WHERE id = $1", connection, transaction)
                {
                    Parameters = { new() { Value = purchaseId } },
                };
                status = await read.ExecuteScalarAsync(cancellationToken) as string;
            }

            return MarketplaceErrors.StripeOutcome(answer.Success, answer.AlreadyCompleted, status);
        });

        await using (var settings = new NpgsqlCommand(
            "SELECT set_config('marketplace.stripe_status', $1, true)", connection, transaction)
        {
            Parameters = { new() { Value = MarketplaceErrors.StripeStatusWord(outcome) } },
        })
        {
            await settings.ExecuteNonQueryAsync(cancellationToken);
        }

        if (record is not null)
        {
            await using var batch = new NpgsqlBatch(connection, transaction) { BatchCommands = { record } };
            await batch.ExecuteNonQueryAsync(cancellationToken);
            batch.BatchCommands.Clear(); // the caller owns the command
        }

        await transaction.CommitAsync(cancellationToken);
        return new StripeCompletion(purchaseId, outcome);
    }

    /// <summary>The download link the webhook gives a paid purchase.</summary>
    public static string DownloadUrl(Guid purchaseId) => $"/api/marketplace/download/{purchaseId}";

    private static async Task<StripeAnswer> CallStripeAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid purchaseId, string? downloadUrl, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(CompleteStripeSql, connection, transaction)
        {
            Parameters = { new() { Value = purchaseId }, new() { Value = (object?)downloadUrl ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text } },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException("complete_stripe_lead_purchase returned no row.");
        }

        return new StripeAnswer(reader.GetBoolean(0), reader.GetBoolean(1), reader.IsDBNull(2) ? [] : reader.GetFieldValue<Guid[]>(2));
    }

    /// <summary><c>mark_leads_sold_bulk</c>: marks the leads not sold yet; returns how many it marked.</summary>
    public async Task<int> MarkLeadsSoldBulkAsync(IReadOnlyList<Guid> leadIds, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT leads_marked FROM mark_leads_sold_bulk(p_lead_ids := $1)");
        command.Parameters.Add(new() { Value = leadIds.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        return await TranslateAsync(async () => (int)(await command.ExecuteScalarAsync(cancellationToken))!);
    }

    /// <summary><c>release_expired_lead_reservations</c>: frees reservations past their time; returns the leads freed.</summary>
    public async Task<int> ReleaseExpiredReservationsAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT release_expired_lead_reservations()");
        return await TranslateAsync(async () => (int)(await command.ExecuteScalarAsync(cancellationToken))!);
    }

    /// <summary><c>release_expired_lead_reservations</c> inside the caller's transaction (the sweep records its count with it).</summary>
    public Task<int> ReleaseExpiredReservationsAsync(OpsTransaction transaction) =>
        TranslateAsync(() => transaction.QuerySingleAsync<int>("SELECT release_expired_lead_reservations()"));

    private static async Task<T> TranslateAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (PostgresException error) when (MarketplaceErrors.Translate(error) is { } refusal)
        {
            throw refusal;
        }
    }
}
