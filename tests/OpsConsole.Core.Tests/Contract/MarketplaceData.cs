using System.Text.Json;
using Dapper;
using Npgsql;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>Optional shape of a lead; the defaults make an available, listed lead priced 10.</summary>
internal sealed record LeadSpec
{
    public decimal? Price { get; init; } = 10m;
    public bool Listed { get; init; } = true;
    public string Status { get; init; } = "available";
    public int SoldCount { get; init; }
    public DateTime? FirstSoldAt { get; init; }
}

internal sealed record Reservation
{
    public Guid PurchaseId { get; init; }
    public decimal TotalPrice { get; init; }
    public int LeadCount { get; init; }
}

internal sealed record CreditCompletion
{
    public Guid PurchaseId { get; init; }
    public string Status { get; init; } = "";
    public decimal BuyerBalance { get; init; }
}

internal sealed record StripeCompletion
{
    public Guid PurchaseId { get; init; }
    public string Status { get; init; } = "";
}

internal sealed record LeadRow
{
    public Guid Id { get; init; }
    public Guid WorkspaceId { get; init; }
    public string MarketplaceStatus { get; init; } = "";
    public int SoldCount { get; init; }
    public DateTime? SoldAt { get; init; }
    public DateTime? FirstSoldAt { get; init; }
    public Guid? ReservedByPurchaseId { get; init; }
    public DateTime? ReservedUntil { get; init; }
}

internal sealed record CreditRow
{
    public decimal Balance { get; init; }
    public decimal TotalPurchased { get; init; }
    public decimal TotalEarned { get; init; }
    public decimal TotalUsed { get; init; }
}

internal sealed record PurchaseRow
{
    public Guid Id { get; init; }
    public Guid BuyerWorkspaceId { get; init; }
    public string Status { get; init; } = "";
    public string PaymentMethod { get; init; } = "";
    public decimal TotalPrice { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime? CompletedAt { get; init; }
    public DateTime? ReservedUntil { get; init; }
    public string? StripePaymentIntentId { get; init; }
    public string? StripeEventId { get; init; }
}

internal sealed record ItemRow
{
    public Guid LeadId { get; init; }
    public decimal Price { get; init; }
}

internal sealed record AuditRow
{
    public string Action { get; init; } = "";
    public Guid? WorkspaceId { get; init; }
    public string Details { get; init; } = "{}";

    public JsonElement Detail(string name) => JsonDocument.Parse(Details).RootElement.GetProperty(name).Clone();

    public Guid[] GuidList(string name) => Detail(name).EnumerateArray().Select(e => e.GetGuid()).Order().ToArray();
}

internal sealed record WebhookEventRow
{
    public string EventId { get; init; } = "";
    public string Type { get; init; } = "";
    public int Deliveries { get; init; }
    public Guid? PurchaseId { get; init; }
    public string? PaymentIntentId { get; init; }
    public DateTime FirstReceivedAt { get; init; }
    public DateTime LastReceivedAt { get; init; }
}

/// <summary>
/// Test data for the contract tests: builders that insert rows with only the contract's required
/// columns, calls of the five functions exactly as the core library makes them (SQL text, by SQLSTATE),
/// and readers of the resulting rows. Each test makes its own workspaces and leads, so tests of a class
/// share its database without seeing each other's rows.
/// </summary>
internal sealed class MarketplaceData(NpgsqlDataSource dataSource)
{
    public NpgsqlDataSource DataSource { get; } = dataSource;

    /// <summary>A workspace with a credit row holding <paramref name="credits"/> bought credits.</summary>
    public async Task<Guid> WorkspaceWithCreditsAsync(decimal credits, CancellationToken cancellationToken)
    {
        var id = await WorkspaceWithoutCreditsAsync(cancellationToken);
        const string sql = """
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased) VALUES (@Id, @Credits, @Credits)
            """;
        await ExecuteAsync(sql, new { Id = id, Credits = credits }, cancellationToken);
        return id;
    }

    /// <summary>A workspace that has never had a credit row (a seller's first sale, a buyer who never topped up).</summary>
    public async Task<Guid> WorkspaceWithoutCreditsAsync(CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        await ExecuteAsync("INSERT INTO workspaces (id, name) VALUES (@Id, @Name)",
            new { Id = id, Name = $"workspace {id:N}" }, cancellationToken);
        return id;
    }

    /// <summary>An available lead listed on the marketplace at <paramref name="price"/>.</summary>
    public Task<Guid> ListedLeadAsync(Guid sellerId, decimal price, CancellationToken cancellationToken) =>
        LeadAsync(sellerId, new LeadSpec { Price = price }, cancellationToken);

    public async Task<Guid> LeadAsync(Guid sellerId, LeadSpec spec, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        const string sql = """
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price, marketplace_status, sold_count, first_sold_at)
            VALUES (@Id, @SellerId, @Listed, @Price, @Status, @SoldCount, @FirstSoldAt)
            """;
        await ExecuteAsync(sql, new { Id = id, SellerId = sellerId, spec.Listed, spec.Price, spec.Status, spec.SoldCount, spec.FirstSoldAt },
            cancellationToken);
        return id;
    }

    /// <summary>Makes a reservation run out, as if its time had passed: the purchase and the leads it holds.</summary>
    public async Task BackdateReservationAsync(Guid purchaseId, CancellationToken cancellationToken)
    {
        const string sql = """
            UPDATE marketplace_purchases SET reserved_until = clock_timestamp() - interval '1 minute' WHERE id = @PurchaseId;
            UPDATE leads SET reserved_until = clock_timestamp() - interval '1 minute' WHERE reserved_by_purchase_id = @PurchaseId;
            """;
        await ExecuteAsync(sql, new { PurchaseId = purchaseId }, cancellationToken);
    }

    public async Task<Reservation> ReserveAsync(Guid buyerId, IReadOnlyList<Guid> leadIds, string paymentMethod, CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ReserveAsync(buyerId, [.. leadIds.Select(id => (Guid?)id)], paymentMethod, cancellationToken);
    }

    public async Task<CreditCompletion> CompleteCreditAsync(Guid? purchaseId, CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        return await connection.CompleteCreditAsync(purchaseId, cancellationToken);
    }

    public async Task<StripeCompletion> CompleteStripeAsync(Guid? purchaseId, string? eventId, string? paymentIntentId, CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        return await connection.CompleteStripeAsync(purchaseId, eventId, paymentIntentId, cancellationToken);
    }

    public async Task<int> MarkSoldAsync(Guid? purchaseId, Guid?[]? leadIds, CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        return await connection.MarkLeadsSoldAsync(purchaseId, leadIds, cancellationToken);
    }

    public async Task<int> ReleaseExpiredAsync(CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ReleaseExpiredAsync(cancellationToken);
    }

    /// <summary>A credit purchase reserved and paid in one go: the usual way a lead gets sold to someone else.</summary>
    public async Task<Guid> BuyWithCreditsAsync(Guid buyerId, IReadOnlyList<Guid> leadIds, CancellationToken cancellationToken)
    {
        var reservation = await ReserveAsync(buyerId, leadIds, "credits", cancellationToken);
        var completion = await CompleteCreditAsync(reservation.PurchaseId, cancellationToken);
        Assert.Equal("completed", completion.Status);
        return reservation.PurchaseId;
    }

    public Task<LeadRow> LeadRowAsync(Guid id, CancellationToken cancellationToken) => QuerySingleAsync<LeadRow>("""
        SELECT id AS Id, workspace_id AS WorkspaceId, marketplace_status AS MarketplaceStatus, sold_count AS SoldCount,
               sold_at AS SoldAt, first_sold_at AS FirstSoldAt, reserved_by_purchase_id AS ReservedByPurchaseId,
               reserved_until AS ReservedUntil
        FROM leads WHERE id = @Id
        """, new { Id = id }, cancellationToken);

    /// <summary>The workspace's credit row, or null when it has none.</summary>
    public async Task<CreditRow?> CreditsAsync(Guid workspaceId, CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<CreditRow>(new CommandDefinition("""
            SELECT balance AS Balance, total_purchased AS TotalPurchased, total_earned AS TotalEarned, total_used AS TotalUsed
            FROM workspace_credits WHERE workspace_id = @Id
            """, new { Id = workspaceId }, cancellationToken: cancellationToken));
    }

    public Task<PurchaseRow> PurchaseAsync(Guid id, CancellationToken cancellationToken) => QuerySingleAsync<PurchaseRow>("""
        SELECT id AS Id, buyer_workspace_id AS BuyerWorkspaceId, status AS Status, payment_method AS PaymentMethod,
               total_price AS TotalPrice, created_at AS CreatedAt, completed_at AS CompletedAt, reserved_until AS ReservedUntil,
               stripe_payment_intent_id AS StripePaymentIntentId, stripe_event_id AS StripeEventId
        FROM marketplace_purchases WHERE id = @Id
        """, new { Id = id }, cancellationToken);

    public Task<IReadOnlyList<PurchaseRow>> PurchasesOfBuyerAsync(Guid buyerId, CancellationToken cancellationToken) => QueryAsync<PurchaseRow>("""
        SELECT id AS Id, buyer_workspace_id AS BuyerWorkspaceId, status AS Status, payment_method AS PaymentMethod, total_price AS TotalPrice
        FROM marketplace_purchases WHERE buyer_workspace_id = @Id
        """, new { Id = buyerId }, cancellationToken);

    public Task<IReadOnlyList<ItemRow>> ItemsAsync(Guid purchaseId, CancellationToken cancellationToken) => QueryAsync<ItemRow>("""
        SELECT lead_id AS LeadId, price AS Price FROM marketplace_purchase_items WHERE purchase_id = @Id ORDER BY lead_id
        """, new { Id = purchaseId }, cancellationToken);

    /// <summary>Audit rows about one purchase (by details.purchase_id), oldest first.</summary>
    public Task<IReadOnlyList<AuditRow>> AuditAsync(Guid purchaseId, CancellationToken cancellationToken) => QueryAsync<AuditRow>("""
        SELECT action AS Action, workspace_id AS WorkspaceId, details::text AS Details
        FROM audit_logs WHERE details ->> 'purchase_id' = @Id::text ORDER BY id
        """, new { Id = purchaseId }, cancellationToken);

    /// <summary>Audit rows written for a workspace, oldest first.</summary>
    public Task<IReadOnlyList<AuditRow>> AuditOfWorkspaceAsync(Guid workspaceId, CancellationToken cancellationToken) => QueryAsync<AuditRow>("""
        SELECT action AS Action, workspace_id AS WorkspaceId, details::text AS Details
        FROM audit_logs WHERE workspace_id = @Id ORDER BY id
        """, new { Id = workspaceId }, cancellationToken);

    public async Task<WebhookEventRow?> WebhookEventAsync(string eventId, CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<WebhookEventRow>(new CommandDefinition("""
            SELECT event_id AS EventId, type AS Type, deliveries AS Deliveries, purchase_id AS PurchaseId,
                   payment_intent_id AS PaymentIntentId, first_received_at AS FirstReceivedAt, last_received_at AS LastReceivedAt
            FROM stripe_webhook_events WHERE event_id = @EventId
            """, new { EventId = eventId }, cancellationToken: cancellationToken));
    }

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

/// <summary>The five functions called on a given connection (inside its transaction, with its settings).</summary>
internal static class MarketplaceCalls
{
    // Casts: a NULL argument then still resolves to the one function of that name and signature.
    public static Task<Reservation> ReserveAsync(
        this NpgsqlConnection connection, Guid? buyerId, Guid?[]? leadIds, string? paymentMethod, CancellationToken cancellationToken) =>
        connection.QuerySingleAsync<Reservation>(new CommandDefinition("""
            SELECT purchase_id AS PurchaseId, total_price AS TotalPrice, lead_count AS LeadCount
            FROM validate_and_lock_leads_for_purchase(@BuyerId::uuid, @LeadIds::uuid[], @PaymentMethod::text)
            """, new { BuyerId = buyerId, LeadIds = leadIds, PaymentMethod = paymentMethod }, cancellationToken: cancellationToken));

    public static Task<CreditCompletion> CompleteCreditAsync(this NpgsqlConnection connection, Guid? purchaseId, CancellationToken cancellationToken) =>
        connection.QuerySingleAsync<CreditCompletion>(new CommandDefinition("""
            SELECT purchase_id AS PurchaseId, status AS Status, buyer_balance AS BuyerBalance
            FROM complete_credit_lead_purchase(@PurchaseId::uuid)
            """, new { PurchaseId = purchaseId }, cancellationToken: cancellationToken));

    public static Task<StripeCompletion> CompleteStripeAsync(
        this NpgsqlConnection connection, Guid? purchaseId, string? eventId, string? paymentIntentId, CancellationToken cancellationToken) =>
        connection.QuerySingleAsync<StripeCompletion>(new CommandDefinition("""
            SELECT purchase_id AS PurchaseId, status AS Status
            FROM complete_stripe_lead_purchase(@PurchaseId::uuid, @EventId::text, @PaymentIntentId::text)
            """, new { PurchaseId = purchaseId, EventId = eventId, PaymentIntentId = paymentIntentId }, cancellationToken: cancellationToken));

    public static Task<int> MarkLeadsSoldAsync(this NpgsqlConnection connection, Guid? purchaseId, Guid?[]? leadIds, CancellationToken cancellationToken) =>
        connection.QuerySingleAsync<int>(new CommandDefinition(
            "SELECT mark_leads_sold_bulk(@PurchaseId::uuid, @LeadIds::uuid[])",
            new { PurchaseId = purchaseId, LeadIds = leadIds }, cancellationToken: cancellationToken));

    public static Task<int> ReleaseExpiredAsync(this NpgsqlConnection connection, CancellationToken cancellationToken) =>
        connection.QuerySingleAsync<int>(new CommandDefinition("SELECT release_expired_lead_reservations()", cancellationToken: cancellationToken));
}
