using Dapper;
using Npgsql;
using OpsConsole.Core.Actions;

namespace OpsConsole.Core.Search;

/// <summary>What the pages a search lands on show: a purchase with everything recorded about it, a workspace. Read only, one round trip each.</summary>
public sealed class ObjectDetails(NpgsqlDataSource dataSource)
{
    private const string PurchaseSql = """
        SELECT p.id, p.buyer_workspace_id AS BuyerWorkspaceId, w.name AS BuyerName, p.status, p.payment_method AS PaymentMethod,
               p.total_price AS TotalPrice, p.created_at AS CreatedAt, p.completed_at AS CompletedAt
        FROM marketplace_purchases p
        LEFT JOIN workspaces w ON w.id = p.buyer_workspace_id
        WHERE p.id = @Id;

        SELECT i.lead_id AS LeadId, l.workspace_id AS SellerId, s.name AS SellerName, i.price, l.marketplace_status AS LeadStatus,
               l.sold_count AS SoldCount
        FROM marketplace_purchase_items i
        LEFT JOIN leads l ON l.id = i.lead_id
        LEFT JOIN workspaces s ON s.id = l.workspace_id
        WHERE i.purchase_id = @Id
        ORDER BY i.lead_id
        LIMIT 200;

        SELECT a.id, a.action, a.actor, a.created_at AS At, a.details::text AS Details
        FROM audit_logs a
        WHERE a.details->>'purchase_id' = @Id::text
        ORDER BY a.id
        LIMIT 100;

        SELECT d.received_at AS At, d.source, d.event_id AS EventId, d.event_type AS EventType, d.outcome, d.http_status AS HttpStatus,
               d.payment_intent_id AS PaymentIntentId, d.error
        FROM ops.stripe_deliveries d
        WHERE d.purchase_id = @Id
        ORDER BY d.id
        LIMIT 100;

        SELECT r.created_at AS At, r.actor, r.outcome, r.refund_id AS RefundId, r.error_message AS Error
        FROM ops.stripe_refunds r
        WHERE r.purchase_id = @Id
        ORDER BY r.id
        LIMIT 50;
        """;

    private const string WorkspaceSql = """
        SELECT w.id, w.name, c.balance, c.total_purchased AS TotalPurchased, c.total_earned AS TotalEarned, c.total_used AS TotalUsed
        FROM workspaces w
        LEFT JOIN workspace_credits c ON c.workspace_id = w.id
        WHERE w.id = @Id;

        SELECT p.id, p.status, p.payment_method AS PaymentMethod, p.total_price AS TotalPrice, p.created_at AS CreatedAt,
               p.completed_at AS CompletedAt, (SELECT count(*)::int FROM marketplace_purchase_items i WHERE i.purchase_id = p.id) AS Leads
        FROM marketplace_purchases p
        WHERE p.buyer_workspace_id = @Id
        ORDER BY p.created_at DESC
        LIMIT 20;
        """;

    /// <summary>A purchase, its items with their leads, its audit rows, Stripe deliveries and refund attempts.</summary>
    public async Task<OpsResult<PurchaseDetail>> GetPurchaseAsync(OpsActor actor, Guid purchaseId, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var reader = await connection.QueryMultipleAsync(new CommandDefinition(PurchaseSql, new { Id = purchaseId }, cancellationToken: cancellationToken));
        var purchase = await reader.ReadSingleOrDefaultAsync<PurchaseHeader>();
        if (purchase is null)
        {
            return Refusal.NotFound($"There is no purchase {purchaseId}.");
        }

        return new PurchaseDetail(
            purchase,
            [.. await reader.ReadAsync<PurchaseItemDetail>()],
            [.. await reader.ReadAsync<AuditRow>()],
            [.. await reader.ReadAsync<DeliveryRow>()],
            [.. await reader.ReadAsync<RefundRow>()]);
    }

    /// <summary>A workspace, its credit row and its latest purchases as a buyer.</summary>
    public async Task<OpsResult<WorkspaceDetail>> GetWorkspaceAsync(OpsActor actor, Guid workspaceId, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var reader = await connection.QueryMultipleAsync(new CommandDefinition(WorkspaceSql, new { Id = workspaceId }, cancellationToken: cancellationToken));
        var workspace = await reader.ReadSingleOrDefaultAsync<WorkspaceHeader>();
        if (workspace is null)
        {
            return Refusal.NotFound($"There is no workspace {workspaceId}.");
        }

        return new WorkspaceDetail(workspace, [.. await reader.ReadAsync<WorkspacePurchase>()]);
    }
}

/// <summary>A purchase and everything recorded about it.</summary>
public sealed record PurchaseDetail(
    PurchaseHeader Purchase, IReadOnlyList<PurchaseItemDetail> Items, IReadOnlyList<AuditRow> Audit,
    IReadOnlyList<DeliveryRow> Deliveries, IReadOnlyList<RefundRow> Refunds);

/// <summary>The purchase row, with its buyer's name.</summary>
public sealed record PurchaseHeader
{
    /// <summary>Its id.</summary>
    public Guid Id { get; init; }

    /// <summary>The buyer.</summary>
    public Guid BuyerWorkspaceId { get; init; }

    /// <summary>The buyer's name (null if the workspace is gone).</summary>
    public string? BuyerName { get; init; }

    /// <summary><c>pending</c>, <c>completed</c>, <c>failed</c>, <c>expired</c> or <c>refund_required</c>.</summary>
    public string Status { get; init; } = "";

    /// <summary><c>credits</c> or <c>stripe</c>.</summary>
    public string PaymentMethod { get; init; } = "";

    /// <summary>The total.</summary>
    public decimal TotalPrice { get; init; }

    /// <summary>Created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Completed, if it was.</summary>
    public DateTimeOffset? CompletedAt { get; init; }
}

/// <summary>One item of a purchase and its lead as it is now.</summary>
public sealed record PurchaseItemDetail
{
    /// <summary>The lead.</summary>
    public Guid LeadId { get; init; }

    /// <summary>Its seller (null if the lead is gone).</summary>
    public Guid? SellerId { get; init; }

    /// <summary>The seller's name.</summary>
    public string? SellerName { get; init; }

    /// <summary>The price paid for it in this purchase.</summary>
    public decimal Price { get; init; }

    /// <summary>The lead's marketplace status now.</summary>
    public string? LeadStatus { get; init; }

    /// <summary>How often the lead has been sold (more than 1 breaks invariant 1).</summary>
    public int? SoldCount { get; init; }
}

/// <summary>An <c>audit_logs</c> row naming the purchase.</summary>
public sealed record AuditRow
{
    /// <summary>Its id.</summary>
    public long Id { get; init; }

    /// <summary>What happened.</summary>
    public string Action { get; init; } = "";

    /// <summary>Who, if recorded.</summary>
    public string? Actor { get; init; }

    /// <summary>When.</summary>
    public DateTimeOffset At { get; init; }

    /// <summary>Its details, as JSON.</summary>
    public string? Details { get; init; }
}

/// <summary>A Stripe delivery naming the purchase.</summary>
public sealed record DeliveryRow
{
    /// <summary>Received.</summary>
    public DateTimeOffset At { get; init; }

    /// <summary><c>webhook</c> or <c>replay</c>.</summary>
    public string Source { get; init; } = "";

    /// <summary>The event.</summary>
    public string? EventId { get; init; }

    /// <summary>Its type.</summary>
    public string? EventType { get; init; }

    /// <summary>What became of it.</summary>
    public string Outcome { get; init; } = "";

    /// <summary>The status answered.</summary>
    public int HttpStatus { get; init; }

    /// <summary>The payment intent.</summary>
    public string? PaymentIntentId { get; init; }

    /// <summary>Why it was a problem, if it was.</summary>
    public string? Error { get; init; }
}

/// <summary>A refund attempt for the purchase.</summary>
public sealed record RefundRow
{
    /// <summary>When.</summary>
    public DateTimeOffset At { get; init; }

    /// <summary>Who asked.</summary>
    public string Actor { get; init; } = "";

    /// <summary><c>issued</c> or <c>error</c>.</summary>
    public string Outcome { get; init; } = "";

    /// <summary>Stripe's refund, when issued.</summary>
    public string? RefundId { get; init; }

    /// <summary>Stripe's error, as worded.</summary>
    public string? Error { get; init; }
}

/// <summary>A workspace and its latest purchases as a buyer.</summary>
public sealed record WorkspaceDetail(WorkspaceHeader Workspace, IReadOnlyList<WorkspacePurchase> RecentPurchases);

/// <summary>A workspace and its credit row (null values when it has none).</summary>
public sealed record WorkspaceHeader
{
    /// <summary>Its id.</summary>
    public Guid Id { get; init; }

    /// <summary>Its name.</summary>
    public string Name { get; init; } = "";

    /// <summary>The credit balance.</summary>
    public decimal? Balance { get; init; }

    /// <summary>Credits bought.</summary>
    public decimal? TotalPurchased { get; init; }

    /// <summary>Credits earned from sales.</summary>
    public decimal? TotalEarned { get; init; }

    /// <summary>Credits spent.</summary>
    public decimal? TotalUsed { get; init; }

    /// <summary>True when the balance disagrees with the totals (invariant 2).</summary>
    public bool Drifted => Balance is { } b && b != (TotalPurchased ?? 0) + (TotalEarned ?? 0) - (TotalUsed ?? 0);
}

/// <summary>One of a workspace's purchases.</summary>
public sealed record WorkspacePurchase
{
    /// <summary>Its id.</summary>
    public Guid Id { get; init; }

    /// <summary>Its status.</summary>
    public string Status { get; init; } = "";

    /// <summary>How it was paid.</summary>
    public string PaymentMethod { get; init; } = "";

    /// <summary>Its total.</summary>
    public decimal TotalPrice { get; init; }

    /// <summary>Created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Completed, if it was.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>How many leads it holds.</summary>
    public int Leads { get; init; }
}
