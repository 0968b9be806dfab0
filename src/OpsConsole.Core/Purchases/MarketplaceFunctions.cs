using Dapper;
using Npgsql;
using OpsConsole.Core.Database;

namespace OpsConsole.Core.Purchases;

/// <summary>A pending purchase that holds its leads.</summary>
public sealed record LeadReservation(Guid PurchaseId, decimal TotalPrice, int LeadCount);

/// <summary>What <c>complete_credit_lead_purchase</c> answered.</summary>
public sealed record CreditCompletion(Guid PurchaseId, PurchaseOutcome Outcome, decimal BuyerBalance);

/// <summary>What <c>complete_stripe_lead_purchase</c> answered.</summary>
public sealed record StripeCompletion(Guid PurchaseId, PurchaseOutcome Outcome);

/// <summary>
/// Typed calls of the five marketplace functions of the contract, one call per method, each in its own
/// transaction. Business refusals come back as <see cref="MarketplaceException"/>; lock conflicts are not
/// retried here (see <see cref="PurchaseService"/> for the retrying purchase path).
/// </summary>
public sealed class MarketplaceFunctions(NpgsqlDataSource dataSource)
{
    /// <summary><c>validate_and_lock_leads_for_purchase</c>: reserves the leads in a new pending purchase.</summary>
    public Task<LeadReservation> ValidateAndLockLeadsAsync(
        Guid buyerWorkspaceId, IReadOnlyList<Guid> leadIds, PaymentMethod paymentMethod, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT purchase_id AS PurchaseId, total_price AS TotalPrice, lead_count AS LeadCount
            FROM validate_and_lock_leads_for_purchase(@BuyerWorkspaceId, @LeadIds, @PaymentMethod)
            """;
        return QuerySingleAsync<LeadReservation>(sql,
            new { BuyerWorkspaceId = buyerWorkspaceId, LeadIds = leadIds.ToArray(), PaymentMethod = paymentMethod.ToSql() },
            cancellationToken);
    }

    /// <summary><c>complete_credit_lead_purchase</c>: pays a pending credit purchase, or fails it for insufficient credits.</summary>
    public async Task<CreditCompletion> CompleteCreditPurchaseAsync(Guid purchaseId, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT purchase_id AS PurchaseId, status AS Status, buyer_balance AS BuyerBalance
            FROM complete_credit_lead_purchase(@PurchaseId)
            """;
        var row = await QuerySingleAsync<StatusRow>(sql, new { PurchaseId = purchaseId }, cancellationToken);
        return new CreditCompletion(row.PurchaseId, MarketplaceErrors.OutcomeForStatus(row.Status), row.BuyerBalance ?? 0m);
    }

    /// <summary><c>complete_stripe_lead_purchase</c>: records a Stripe payment event and completes the purchase once.</summary>
    public async Task<StripeCompletion> CompleteStripePurchaseAsync(
        Guid purchaseId, string stripeEventId, string paymentIntentId, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT purchase_id AS PurchaseId, status AS Status
            FROM complete_stripe_lead_purchase(@PurchaseId, @StripeEventId, @PaymentIntentId)
            """;
        var row = await QuerySingleAsync<StatusRow>(sql,
            new { PurchaseId = purchaseId, StripeEventId = stripeEventId, PaymentIntentId = paymentIntentId }, cancellationToken);
        return new StripeCompletion(row.PurchaseId, MarketplaceErrors.OutcomeForStatus(row.Status));
    }

    /// <summary>
    /// <c>complete_stripe_lead_purchase</c> as <paramref name="actor"/>, followed by <paramref name="record"/> in the same
    /// implicit transaction and round trip: the record commits with the completion or not at all, and may read the
    /// status word as <c>current_setting('marketplace.stripe_status')</c>. A business error rolls both back.
    /// </summary>
    public async Task<StripeCompletion> CompleteStripePurchaseAsync(
        Guid purchaseId, string stripeEventId, string paymentIntentId, string actor, NpgsqlBatchCommand record, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT purchase_id, status, set_config('marketplace.stripe_status', status, true)
            FROM complete_stripe_lead_purchase($1, $2, $3)
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Without BEGIN/COMMIT a batch is one implicit transaction, committed at its end: one round trip, one commit.
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("SELECT set_config('marketplace.actor', $1, true)") { Parameters = { new() { Value = actor } } },
                new NpgsqlBatchCommand(sql) { Parameters = { new() { Value = purchaseId }, new() { Value = stripeEventId }, new() { Value = paymentIntentId } } },
                record,
            },
        };
        try
        {
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken); // past the actor's set_config
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw new InvalidOperationException("complete_stripe_lead_purchase returned no row.");
            }

            var completion = new StripeCompletion(reader.GetGuid(0), MarketplaceErrors.OutcomeForStatus(reader.GetString(1)));
            // Drain the rest so an error of the record surfaces here, not at dispose.
            while (await reader.NextResultAsync(cancellationToken))
            {
            }

            return completion;
        }
        catch (PostgresException error) when (MarketplaceErrors.Translate(error) is { } refusal)
        {
            throw refusal;
        }
    }

    /// <summary><c>mark_leads_sold_bulk</c>: marks leads reserved by the purchase as sold; all or none.</summary>
    public Task<int> MarkLeadsSoldBulkAsync(Guid purchaseId, IReadOnlyList<Guid> leadIds, CancellationToken cancellationToken)
    {
        const string sql = "SELECT mark_leads_sold_bulk(@PurchaseId, @LeadIds)";
        return QuerySingleAsync<int>(sql, new { PurchaseId = purchaseId, LeadIds = leadIds.ToArray() }, cancellationToken);
    }

    /// <summary><c>release_expired_lead_reservations</c>: expires pending purchases past their reservation.</summary>
    public Task<int> ReleaseExpiredReservationsAsync(CancellationToken cancellationToken)
    {
        const string sql = "SELECT release_expired_lead_reservations()";
        return QuerySingleAsync<int>(sql, null, cancellationToken);
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

    private async Task<T> QuerySingleAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            return await connection.QuerySingleAsync<T>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
        }
        catch (PostgresException error) when (MarketplaceErrors.Translate(error) is { } refusal)
        {
            throw refusal;
        }
    }

    private sealed class StatusRow
    {
        public Guid PurchaseId { get; init; }

        public string Status { get; init; } = "";

        public decimal? BuyerBalance { get; init; }
    }
}
