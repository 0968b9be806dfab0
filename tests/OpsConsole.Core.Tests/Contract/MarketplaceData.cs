using Dapper;
using Npgsql;
using OpsConsole.Core.Purchases.Drill;
using OpsConsole.Testing;
using OpsConsole.Testing.RealMarketplace;

namespace OpsConsole.Core.Tests.Contract;

internal sealed record LeadRow
{
    public Guid Id { get; init; }
    public string? MarketplaceStatus { get; init; }
    public int SoldCount { get; init; }
    public DateTime? SoldAt { get; init; }
    public Guid? ReservedForWorkspaceId { get; init; }
    public DateTime? ReservedUntil { get; init; }
}

internal sealed record CreditRow
{
    public decimal Balance { get; init; }
    public decimal TotalPurchased { get; init; }
    public decimal TotalUsed { get; init; }
}

internal sealed record PurchaseRow
{
    public string Status { get; init; } = "";
    public decimal TotalPrice { get; init; }
    public decimal? CreditsUsed { get; init; }
    public decimal? RefundAmount { get; init; }
    public DateTime? CompletedAt { get; init; }
}

internal sealed record CreditAnswer(bool Success, int? NewCreditBalance, string? ErrorMessage);

/// <summary>
/// Test data for the contract tests on the marketplace's real schema (migrated by the console): buyers with an
/// owner user and credits, sellers' listed leads with query and partner (Core's seed), the drop-in's calls with
/// the app's argument names, and readers of the resulting rows. Each test makes its own workspaces and leads,
/// so the tests of a class share its database without seeing each other's rows.
/// </summary>
internal sealed class MarketplaceData(NpgsqlDataSource dataSource)
{
    public NpgsqlDataSource DataSource { get; } = dataSource;

    public async Task<AppBuyer> BuyerAsync(decimal credits, CancellationToken cancellationToken)
    {
        var workspace = (await MarketSeed.WorkspacesAsync(DataSource, 1, credits, cancellationToken))[0];
        return new AppBuyer(workspace, await MarketSeed.OwnerUserAsync(DataSource, workspace, cancellationToken));
    }

    public async Task<Guid[]> LeadsAsync(int count, decimal price, CancellationToken cancellationToken)
    {
        var seller = (await MarketSeed.WorkspacesWithoutCreditsAsync(DataSource, 1, cancellationToken))[0];
        return await MarketSeed.ListedLeadsAsync(DataSource, [seller], count, price, cancellationToken);
    }

    /// <summary>validate_and_lock_leads_for_purchase as route.ts calls it; the ids of the rows it returned.</summary>
    public async Task<Guid[]> ValidateAsync(IReadOnlyList<Guid> leadIds, Guid buyerWorkspaceId, CancellationToken cancellationToken, NpgsqlConnection? on = null)
    {
        const string sql = "SELECT id FROM validate_and_lock_leads_for_purchase(p_lead_ids := @LeadIds, p_buyer_workspace_id := @Buyer)";
        var args = new { LeadIds = leadIds.ToArray(), Buyer = buyerWorkspaceId };
        if (on is not null)
        {
            return (await on.QueryAsync<Guid>(new CommandDefinition(sql, args, cancellationToken: cancellationToken))).ToArray();
        }

        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<Guid>(new CommandDefinition(sql, args, cancellationToken: cancellationToken))).ToArray();
    }

    /// <summary>A pending purchase with one item per lead at <paramref name="itemPrice"/> and a total_price of <paramref name="totalPrice"/>.</summary>
    public Task<Guid> PendingPurchaseAsync(AppBuyer buyer, IReadOnlyList<Guid> leadIds, string method, decimal itemPrice, decimal totalPrice, CancellationToken cancellationToken) =>
        QuerySingleAsync<Guid>("""
            WITH p AS (
                INSERT INTO marketplace_purchases (buyer_workspace_id, buyer_user_id, total_leads, total_price, payment_method, credits_used, status)
                VALUES (@Workspace, @User, cardinality(@Leads), @Total, @Method, CASE WHEN @Method = 'credits' THEN @Total ELSE 0 END, 'pending')
                RETURNING id),
            i AS (INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price_at_purchase) SELECT p.id, unnest(@Leads), @Price FROM p)
            SELECT id FROM p
            """, new { Workspace = buyer.WorkspaceId, User = buyer.UserId, Leads = leadIds.ToArray(), Total = totalPrice, Method = method, Price = itemPrice }, cancellationToken);

    public Task<CreditAnswer> CompleteCreditAsync(Guid purchaseId, Guid workspaceId, decimal amount, CancellationToken cancellationToken) =>
        QuerySingleAsync<CreditAnswer>("""
            SELECT success AS Success, new_credit_balance AS NewCreditBalance, error_message AS ErrorMessage
            FROM complete_credit_lead_purchase(p_purchase_id := @Purchase, p_workspace_id := @Workspace, p_credit_amount := @Amount)
            """, new { Purchase = purchaseId, Workspace = workspaceId, Amount = amount }, cancellationToken);

    public async Task<int> ReleaseExpiredAsync(CancellationToken cancellationToken) =>
        await QuerySingleAsync<int>("SELECT release_expired_lead_reservations()", null, cancellationToken);

    /// <summary>Makes the leads' reservations (and the purchases' age) run out, as if their time had passed.</summary>
    public Task BackdateAsync(IReadOnlyList<Guid> leadIds, Guid? purchaseId, CancellationToken cancellationToken) => ExecuteAsync("""
        UPDATE leads SET reserved_until = now() - interval '1 minute' WHERE id = ANY(@Leads) AND reserved_until IS NOT NULL;
        UPDATE marketplace_purchases SET created_at = now() - interval '1 hour' WHERE id = @Purchase;
        """, new { Leads = leadIds.ToArray(), Purchase = purchaseId }, cancellationToken);

    public Task<LeadRow> LeadRowAsync(Guid id, CancellationToken cancellationToken) => QuerySingleAsync<LeadRow>("""
        SELECT id AS Id, marketplace_status AS MarketplaceStatus, coalesce(sold_count, 0) AS SoldCount, sold_at AS SoldAt,
               reserved_for_workspace_id AS ReservedForWorkspaceId, reserved_until AS ReservedUntil
        FROM leads WHERE id = @Id
        """, new { Id = id }, cancellationToken);

    public Task<CreditRow> CreditsAsync(Guid workspaceId, CancellationToken cancellationToken) => QuerySingleAsync<CreditRow>("""
        SELECT balance AS Balance, coalesce(total_purchased, 0) AS TotalPurchased, coalesce(total_used, 0) AS TotalUsed
        FROM workspace_credits WHERE workspace_id = @Id
        """, new { Id = workspaceId }, cancellationToken);

    public Task<PurchaseRow> PurchaseAsync(Guid id, CancellationToken cancellationToken) => QuerySingleAsync<PurchaseRow>("""
        SELECT status AS Status, total_price AS TotalPrice, credits_used AS CreditsUsed, refund_amount AS RefundAmount, completed_at AS CompletedAt
        FROM marketplace_purchases WHERE id = @Id
        """, new { Id = id }, cancellationToken);

    /// <summary>The audit actions written about a purchase (audit_logs.resource_id), oldest first.</summary>
    public async Task<string[]> AuditActionsAsync(Guid purchaseId, CancellationToken cancellationToken) =>
        [.. await QueryAsync<string>("SELECT action FROM audit_logs WHERE resource_id = @Id ORDER BY created_at, id", new { Id = purchaseId }, cancellationToken)];

    public async Task ExecuteAsync(string sql, object? parameters, CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
    }

    public async Task<T> QuerySingleAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleAsync<T>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<T>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>Runs <paramref name="call"/>, which must fail with <paramref name="sqlState"/>; returns the error.</summary>
    public static async Task<PostgresException> AssertSqlStateAsync(string sqlState, Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<PostgresException>(call);
        Assert.True(error.SqlState == sqlState, $"Expected SQLSTATE {sqlState}, got {error.SqlState}: {error.MessageText}");
        return error;
    }
}
