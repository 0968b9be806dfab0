using System.Globalization;
using System.Text.Json;
using Dapper;
using Npgsql;

namespace OpsConsole.Core.Purchases.Drill;

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
    public static async Task<ReplayOutcome> BuyWithCreditsAsync(
        NpgsqlDataSource app, AppBuyer buyer, IReadOnlyList<Guid> leadIds, int completionCalls, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(completionCalls, 1);
        var (stage, leads, error) = await ValidateAsync(app, buyer, leadIds, cancellationToken);
        if (stage is not null)
        {
            return new ReplayOutcome(stage.Value, null, [], error);
        }

        var partners = await PartnersAsync(app, leads!, cancellationToken);
        var totalPrice = leads!.Sum(l => l.Price);

        await using (var connection = await app.OpenConnectionAsync(cancellationToken))
        {
            var balance = await connection.QuerySingleOrDefaultAsync<decimal?>(new CommandDefinition(
                "SELECT balance FROM workspace_credits WHERE workspace_id = @Id", new { Id = buyer.WorkspaceId }, cancellationToken: cancellationToken)) ?? 0m;
            if ((double)balance < totalPrice)
            {
                return new ReplayOutcome(ReplayStage.Refused, null, [], "Insufficient credits");
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
            return new ReplayOutcome(ReplayStage.Failed, null, [], e.MessageText);
        }

        var successes = new List<bool>();
        string? lastError = null;
        for (var call = 0; call < completionCalls; call++)
        {
            var completion = await CompleteCreditPurchaseAsync(app, buyer, purchaseId, totalPrice, cancellationToken);
            successes.Add(completion.Success);
            lastError = completion.Error;
        }

        return new ReplayOutcome(successes[0] ? ReplayStage.Completed : ReplayStage.CompletionRefused, purchaseId, successes, lastError, totalPrice);
    }

    /// <summary>
    /// The route's <c>complete_credit_lead_purchase</c> call for a purchase it made; called again, it is a client's retry
    /// (the route has no guard against one: a second POST with a new idempotency key reaches the same RPC).
    /// </summary>
    public static async Task<CreditCompletion> CompleteCreditPurchaseAsync(
        NpgsqlDataSource app, AppBuyer buyer, Guid purchaseId, double totalPrice, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT success, new_credit_balance, error_message
            FROM complete_credit_lead_purchase(p_purchase_id := @PurchaseId, p_workspace_id := @WorkspaceId, p_credit_amount := @Amount::numeric)
            """;
        try
        {
            await using var connection = await app.OpenConnectionAsync(cancellationToken);
            var row = await connection.QuerySingleAsync<(bool Success, int? Balance, string? Error)>(new CommandDefinition(
                sql, new { PurchaseId = purchaseId, buyer.WorkspaceId, Amount = Json(totalPrice) }, cancellationToken: cancellationToken));
            return new CreditCompletion(row.Success, row.Balance, row.Error);
        }
        catch (PostgresException e)
        {
            return new CreditCompletion(false, null, e.MessageText);
        }
    }

    /// <summary>POST /api/marketplace/purchase with <c>paymentMethod: 'stripe'</c>, up to the checkout session.</summary>
    public static async Task<ReplayOutcome> StartCardCheckoutAsync(
        NpgsqlDataSource app, AppBuyer buyer, IReadOnlyList<Guid> leadIds, CancellationToken cancellationToken)
    {
        var (stage, leads, error) = await ValidateAsync(app, buyer, leadIds, cancellationToken);
        if (stage is not null)
        {
            return new ReplayOutcome(stage.Value, null, [], error);
        }

        var partners = await PartnersAsync(app, leads!, cancellationToken);
        var totalPrice = leads!.Sum(l => l.Price);
        try
        {
            var purchaseId = await CreatePurchaseAsync(app, buyer, leadIds.Count, totalPrice, "stripe", 0, cancellationToken);
            await AddPurchaseItemsAsync(app, purchaseId, leads!, partners, cancellationToken);
            return new ReplayOutcome(ReplayStage.CheckoutStarted, purchaseId, [], null, totalPrice);
        }
        catch (PostgresException e)
        {
            return new ReplayOutcome(ReplayStage.Failed, null, [], e.MessageText);
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

    private static async Task<(ReplayStage? Stage, List<LockedLead>? Leads, string? Error)> ValidateAsync(
        NpgsqlDataSource app, AppBuyer buyer, IReadOnlyList<Guid> leadIds, CancellationToken cancellationToken)
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
                return (ReplayStage.Refused, null, "Some leads are no longer available for purchase");
            }

            // lead.marketplace_price || 0.05, as a JavaScript number.
            var leads = rows.Select(r => new LockedLead(
                r.Id, r.Price is { } p && p != 0 ? (double)p : DefaultPrice, r.PartnerId, r.CreatedAt, r.Intent, r.Freshness)).ToList();
            return (null, leads, null);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable || e.MessageText.Contains("no longer available", StringComparison.Ordinal))
        {
            return (ReplayStage.Conflict, null, e.MessageText);
        }
        catch (PostgresException e)
        {
            return (ReplayStage.Failed, null, e.MessageText);
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
        NpgsqlDataSource app, AppBuyer buyer, int totalLeads, double totalPrice, string paymentMethod, double creditsUsed, CancellationToken cancellationToken)
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
