using System.Globalization;
using System.Text.Json;
using Dapper;
using Npgsql;

namespace OpsConsole.Testing.RealMarketplace;

/// <summary>How a replayed purchase request ended, as route.ts would answer it.</summary>
public enum PurchaseStage
{
    /// <summary>409: validate raised 55P03 or "no longer available".</summary>
    Conflict,

    /// <summary>400: validate returned fewer leads than asked, or the app's own balance check refused.</summary>
    Refused,

    /// <summary>500: an insert or an RPC failed otherwise.</summary>
    Failed,

    /// <summary>400: the completion function answered <c>success = false</c>.</summary>
    CompletionRefused,

    /// <summary>200: the completion function answered <c>success = true</c>.</summary>
    Completed,

    /// <summary>The card path: the pending purchase and its items exist, the checkout session would be created.</summary>
    CheckoutStarted,
}

/// <summary>One replayed request: its stage, the purchase it made, and what each completion call answered.</summary>
public sealed record PurchaseOutcome(PurchaseStage Stage, Guid? PurchaseId, IReadOnlyList<bool> CompletionSuccesses, string? Error);

/// <summary>What <c>complete_stripe_lead_purchase</c> answered the webhook.</summary>
public sealed record StripeCompletion(bool Success, bool AlreadyCompleted, Guid[] LeadIdsMarked);

/// <summary>
/// The marketplace app's purchase path replayed call by call as <c>src/app/api/marketplace/purchase/route.ts</c>
/// and <c>src/app/api/webhooks/stripe/route.ts</c> make it at cdacbd82, each call its own transaction (PostgREST
/// runs one per request): validate -> partners -> credit balance -> insert the pending purchase -> insert its
/// items -> complete. Inserts go through <c>jsonb_populate_record(set)</c> as PostgREST's do, with the numbers
/// the app computes in JavaScript doubles, so type conversions fail or round exactly as they do there.
/// </summary>
public static class AppCallReplay
{
    private const double DefaultPrice = 0.05;

    /// <summary>POST /api/marketplace/purchase with <c>paymentMethod: 'credits'</c>; <paramref name="completionCalls"/> &gt; 1 replays client retries of the completion RPC.</summary>
    public static async Task<PurchaseOutcome> BuyWithCreditsAsync(
        NpgsqlDataSource app, Buyer buyer, IReadOnlyList<Guid> leadIds, CancellationToken cancellationToken, int completionCalls = 1)
    {
        var (stage, leads, error) = await ValidateAsync(app, buyer, leadIds, cancellationToken);
        if (stage is not null)
        {
            return new PurchaseOutcome(stage.Value, null, [], error);
        }

        var partners = await PartnersAsync(app, leads!, cancellationToken);
        var totalPrice = leads!.Sum(l => l.Price);

        await using (var connection = await app.OpenConnectionAsync(cancellationToken))
        {
            var balance = await connection.QuerySingleOrDefaultAsync<decimal?>(new CommandDefinition(
                "SELECT balance FROM workspace_credits WHERE workspace_id = @Id", new { Id = buyer.WorkspaceId }, cancellationToken: cancellationToken)) ?? 0m;
            if ((double)balance < totalPrice)
            {
                return new PurchaseOutcome(PurchaseStage.Refused, null, [], "Insufficient credits");
            }
        }

        Guid purchaseId;
        try
        {
            purchaseId = await CreatePurchaseAsync(app, buyer, leadIds.Count, totalPrice, "credits", totalPrice, cancellationToken);
            await AddPurchaseItemsAsync(app, purchaseId, leads!, partners, cancellationToken);
        }
        catch (PostgresException e)
        {
            return new PurchaseOutcome(PurchaseStage.Failed, null, [], e.MessageText);
        }

        const string complete = """
            SELECT success, new_credit_balance, error_message
            FROM complete_credit_lead_purchase(p_purchase_id := @PurchaseId, p_workspace_id := @WorkspaceId, p_credit_amount := @Amount::numeric)
            """;
        var successes = new List<bool>();
        string? lastError = null;
        for (var call = 0; call < completionCalls; call++)
        {
            try
            {
                await using var connection = await app.OpenConnectionAsync(cancellationToken);
                var row = await connection.QuerySingleAsync<(bool Success, int? Balance, string? Error)>(new CommandDefinition(
                    complete, new { PurchaseId = purchaseId, buyer.WorkspaceId, Amount = Json(totalPrice) }, cancellationToken: cancellationToken));
                successes.Add(row.Success);
                lastError = row.Error;
            }
            catch (PostgresException e)
            {
                successes.Add(false);
                lastError = e.MessageText;
            }
        }

        return new PurchaseOutcome(successes[0] ? PurchaseStage.Completed : PurchaseStage.CompletionRefused, purchaseId, successes, lastError);
    }

    /// <summary>POST /api/marketplace/purchase with <c>paymentMethod: 'stripe'</c>, up to the checkout session.</summary>
    public static async Task<PurchaseOutcome> StartCardCheckoutAsync(
        NpgsqlDataSource app, Buyer buyer, IReadOnlyList<Guid> leadIds, CancellationToken cancellationToken)
    {
        var (stage, leads, error) = await ValidateAsync(app, buyer, leadIds, cancellationToken);
        if (stage is not null)
        {
            return new PurchaseOutcome(stage.Value, null, [], error);
        }

        var partners = await PartnersAsync(app, leads!, cancellationToken);
        var totalPrice = leads!.Sum(l => l.Price);
        try
        {
            var purchaseId = await CreatePurchaseAsync(app, buyer, leadIds.Count, totalPrice, "stripe", 0, cancellationToken);
            await AddPurchaseItemsAsync(app, purchaseId, leads!, partners, cancellationToken);
            return new PurchaseOutcome(PurchaseStage.CheckoutStarted, purchaseId, [], null);
        }
        catch (PostgresException e)
        {
            return new PurchaseOutcome(PurchaseStage.Failed, null, [], e.MessageText);
        }
    }

    /// <summary>The webhook's <c>checkout.session.completed</c> handling for a lead purchase.</summary>
    public static async Task<StripeCompletion> DeliverCheckoutCompletedAsync(NpgsqlDataSource app, Guid purchaseId, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT success, already_completed, lead_ids_marked
            FROM complete_stripe_lead_purchase(p_purchase_id := @PurchaseId, p_download_url := @Url)
            """;
        await using var connection = await app.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleAsync<(bool Success, bool AlreadyCompleted, Guid[]? Ids)>(new CommandDefinition(
            sql, new { PurchaseId = purchaseId, Url = $"https://app.example.com/api/marketplace/download/{purchaseId}" }, cancellationToken: cancellationToken));
        return new StripeCompletion(row.Success, row.AlreadyCompleted, row.Ids ?? []);
    }

    private sealed record LockedLead(Guid Id, double Price, Guid? PartnerId, DateTime CreatedAt, int? IntentScore, int? FreshnessScore);

    private sealed record PartnerRow(Guid Id, decimal? VerificationPassRate, decimal? BonusCommissionRate, decimal? BaseCommissionRate);

    private static async Task<(PurchaseStage? Stage, List<LockedLead>? Leads, string? Error)> ValidateAsync(
        NpgsqlDataSource app, Buyer buyer, IReadOnlyList<Guid> leadIds, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT id, marketplace_price, partner_id, created_at, intent_score_calculated, freshness_score
            FROM validate_and_lock_leads_for_purchase(p_lead_ids := @LeadIds, p_buyer_workspace_id := @WorkspaceId)
            """;
        try
        {
            await using var connection = await app.OpenConnectionAsync(cancellationToken);
            var rows = (await connection.QueryAsync<(Guid Id, decimal? Price, Guid? PartnerId, DateTime CreatedAt, int? Intent, int? Freshness)>(
                new CommandDefinition(sql, new { LeadIds = leadIds.ToArray(), buyer.WorkspaceId }, cancellationToken: cancellationToken))).AsList();
            if (rows.Count != leadIds.Count)
            {
                return (PurchaseStage.Refused, null, "Some leads are no longer available for purchase");
            }

            // lead.marketplace_price || 0.05, as a JavaScript number.
            var leads = rows.Select(r => new LockedLead(
                r.Id, r.Price is { } p && p != 0 ? (double)p : DefaultPrice, r.PartnerId, r.CreatedAt, r.Intent, r.Freshness)).ToList();
            return (null, leads, null);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable || e.MessageText.Contains("no longer available", StringComparison.Ordinal))
        {
            return (PurchaseStage.Conflict, null, e.MessageText);
        }
        catch (PostgresException e)
        {
            return (PurchaseStage.Failed, null, e.MessageText);
        }
    }

    private static async Task<Dictionary<Guid, PartnerRow>> PartnersAsync(NpgsqlDataSource app, List<LockedLead> leads, CancellationToken cancellationToken)
    {
        var ids = leads.Where(l => l.PartnerId is not null).Select(l => l.PartnerId!.Value).Distinct().ToArray();
        if (ids.Length == 0)
        {
            return [];
        }

        await using var connection = await app.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<PartnerRow>(new CommandDefinition(
            """
            SELECT id AS Id, verification_pass_rate AS VerificationPassRate, bonus_commission_rate AS BonusCommissionRate,
                   base_commission_rate AS BaseCommissionRate
            FROM partners WHERE id = ANY(@Ids)
            """, new { Ids = ids }, cancellationToken: cancellationToken));
        return rows.ToDictionary(p => p.Id);
    }

    private static async Task<Guid> CreatePurchaseAsync(
        NpgsqlDataSource app, Buyer buyer, int totalLeads, double totalPrice, string paymentMethod, double creditsUsed, CancellationToken cancellationToken)
    {
        // repo.createPurchase: the keys JSON.stringify keeps (undefined ones drop out).
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["buyer_workspace_id"] = buyer.WorkspaceId,
            ["buyer_user_id"] = buyer.UserId,
            ["total_leads"] = totalLeads,
            ["total_price"] = totalPrice,
            ["payment_method"] = paymentMethod,
            ["credits_used"] = creditsUsed,
            ["card_amount"] = 0,
            ["status"] = "pending",
        });
        const string sql = """
            INSERT INTO marketplace_purchases (buyer_workspace_id, buyer_user_id, total_leads, total_price, payment_method, credits_used, card_amount, status)
            SELECT buyer_workspace_id, buyer_user_id, total_leads, total_price, payment_method, credits_used, card_amount, status
            FROM jsonb_populate_record(NULL::marketplace_purchases, @Body::jsonb)
            RETURNING id
            """;
        await using var connection = await app.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleAsync<Guid>(new CommandDefinition(sql, new { Body = body }, cancellationToken: cancellationToken));
    }

    private static async Task AddPurchaseItemsAsync(
        NpgsqlDataSource app, Guid purchaseId, List<LockedLead> leads, Dictionary<Guid, PartnerRow> partners, CancellationToken cancellationToken)
    {
        var now = DateTime.UtcNow;
        var payableAt = now.AddDays(14).ToString("O", CultureInfo.InvariantCulture);
        var items = leads.Select(lead =>
        {
            var item = new Dictionary<string, object?>
            {
                ["purchase_id"] = purchaseId,
                ["lead_id"] = lead.Id,
                ["price_at_purchase"] = lead.Price,
                ["intent_score_at_purchase"] = lead.IntentScore,
                ["freshness_score_at_purchase"] = lead.FreshnessScore,
            };
            if (lead.PartnerId is { } partnerId && partners.TryGetValue(partnerId, out var partner))
            {
                var (rate, amount, bonuses) = Commission(lead.Price, partner, lead.CreatedAt, now);
                item["partner_id"] = partnerId;
                item["commission_rate"] = rate;
                item["commission_amount"] = amount;
                item["commission_bonuses"] = bonuses;
                item["commission_status"] = "pending_holdback";
                item["commission_payable_at"] = payableAt;
            }
            else
            {
                item["commission_bonuses"] = Array.Empty<string>();
                item["commission_status"] = null;
                item["commission_payable_at"] = null;
            }

            return item;
        });
        const string sql = """
            INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price_at_purchase, intent_score_at_purchase, freshness_score_at_purchase,
                                                    partner_id, commission_rate, commission_amount, commission_bonuses, commission_status, commission_payable_at)
            SELECT purchase_id, lead_id, price_at_purchase, intent_score_at_purchase, freshness_score_at_purchase,
                   partner_id, commission_rate, commission_amount, commission_bonuses, commission_status, commission_payable_at
            FROM jsonb_populate_recordset(NULL::marketplace_purchase_items, @Body::jsonb)
            """;
        await using var connection = await app.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { Body = JsonSerializer.Serialize(items) }, cancellationToken: cancellationToken));
    }

    // commission.service.ts calculateCommission, in doubles as there.
    private static (double Rate, double Amount, string[] Bonuses) Commission(double salePrice, PartnerRow partner, DateTime leadCreatedAt, DateTime saleDate)
    {
        var rate = partner.BaseCommissionRate is { } b && b != 0 ? (double)b : 0.30;
        var bonuses = new List<string>();
        if (Math.Floor((saleDate - leadCreatedAt.ToUniversalTime()).TotalDays) <= 7)
        {
            rate += 0.10;
            bonuses.Add("fresh_sale");
        }

        if ((double)(partner.VerificationPassRate ?? 0) >= 95)
        {
            rate += 0.05;
            bonuses.Add("high_verification");
        }

        if ((double)(partner.BonusCommissionRate ?? 0) > 0)
        {
            rate += (double)partner.BonusCommissionRate!.Value;
            bonuses.Add("volume");
        }

        rate = Math.Min(rate, 0.50);
        return (rate, Math.Round(salePrice * rate * 10000, MidpointRounding.AwayFromZero) / 10000, bonuses.ToArray());
    }

    // A JavaScript number as JSON.stringify writes it (shortest round-trip), which PostgREST hands to PostgreSQL as text.
    private static string Json(double value) => JsonSerializer.Serialize(value);
}
