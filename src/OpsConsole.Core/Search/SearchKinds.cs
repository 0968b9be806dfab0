using System.Globalization;

namespace OpsConsole.Core.Search;

// The kinds the console knows at first; each is registered in AddOpsConsoleSearch. Every query is parameterised, reads
// by primary key or an index (see migration 0085 for the Stripe payment intent and the lock actions' pid), and returns
// at most 10 rows.

/// <summary>A purchase, by its id: its detail page.</summary>
public sealed class PurchaseSearchKind : ISearchKind
{
    /// <inheritdoc />
    public string Name => "purchase";

    /// <inheritdoc />
    public string Description => "purchase ids";

    /// <inheritdoc />
    public string? Sql(SearchInput input) => input.Uuid is null ? null : """
        SELECT 'purchase' AS kind, p.id::text AS id,
               format('Purchase %s: %s, %s, %s, by %s', p.id, p.status, p.payment_method, p.total_price, coalesce(w.name, 'an unknown workspace')) AS label,
               p.id AS purchase_id, p.buyer_workspace_id AS workspace_id, 0 AS rank
        FROM marketplace_purchases p
        LEFT JOIN workspaces w ON w.id = p.buyer_workspace_id
        WHERE p.id = @Uuid
        """;

    /// <inheritdoc />
    public SearchTarget Target(SearchRow row) => new(Name, row.Id, $"purchases/{row.Id}", row.Label);
}

/// <summary>
/// A lead, by its id: the purchase that bought it or holds its reservation (several, if it was sold more than once), else
/// its seller's workspace page.
/// </summary>
public sealed class LeadSearchKind : ISearchKind
{
    /// <inheritdoc />
    public string Name => "lead";

    /// <inheritdoc />
    public string Description => "lead ids";

    /// <inheritdoc />
    public string? Sql(SearchInput input) => input.Uuid is null ? null : """
        SELECT 'lead' AS kind, l.id::text AS id,
               CASE WHEN p.id IS NULL
                    THEN format('Lead %s (%s) of %s: no purchase bought or reserved it', l.id, l.marketplace_status, coalesce(s.name, 'an unknown seller'))
                    ELSE format('Lead %s (%s) of %s, in purchase %s (%s)', l.id, l.marketplace_status, coalesce(s.name, 'an unknown seller'), p.id, p.status)
               END AS label,
               p.id AS purchase_id, l.workspace_id, 0 AS rank
        FROM leads l
        LEFT JOIN workspaces s ON s.id = l.workspace_id
        LEFT JOIN marketplace_purchase_items i ON i.lead_id = l.id
            AND EXISTS (SELECT 1 FROM marketplace_purchases x WHERE x.id = i.purchase_id AND x.status IN ('completed', 'pending', 'refund_required'))
        LEFT JOIN marketplace_purchases p ON p.id = i.purchase_id
        WHERE l.id = @Uuid
        ORDER BY p.created_at DESC NULLS LAST
        LIMIT 10
        """;

    /// <inheritdoc />
    public SearchTarget Target(SearchRow row) => row.PurchaseId is { } purchase
        ? new(Name, row.Id, $"purchases/{purchase}?lead={row.Id}", row.Label)
        : new(Name, row.Id, $"workspaces/{row.WorkspaceId}?lead={row.Id}", row.Label);
}

/// <summary>A workspace, by its id or its name (exactly, else names that start with or contain the input).</summary>
public sealed class WorkspaceSearchKind : ISearchKind
{
    /// <inheritdoc />
    public string Name => "workspace";

    /// <inheritdoc />
    public string Description => "workspace ids and names";

    /// <inheritdoc />
    public string? Sql(SearchInput input) => input.Uuid is not null
        ? """
          SELECT 'workspace' AS kind, w.id::text AS id, format('Workspace %s (%s)', w.name, w.id) AS label,
                 NULL::uuid AS purchase_id, w.id AS workspace_id, 0 AS rank
          FROM workspaces w
          WHERE w.id = @Uuid
          """
        : input.Text.Length < 2 ? null : """
          SELECT 'workspace' AS kind, w.id::text AS id, format('Workspace %s (%s)', w.name, w.id) AS label,
                 NULL::uuid AS purchase_id, w.id AS workspace_id,
                 CASE WHEN lower(w.name) = lower(@Text) THEN 0 WHEN w.name ILIKE @Prefix ESCAPE '\' THEN 1 ELSE 2 END AS rank
          FROM workspaces w
          WHERE w.name ILIKE @Contains ESCAPE '\'
          ORDER BY rank, w.name
          LIMIT 10
          """;

    /// <inheritdoc />
    public SearchTarget Target(SearchRow row) => new(Name, row.Id, $"workspaces/{row.Id}", row.Label);
}

/// <summary>A Stripe event (<c>evt_...</c>) the receiver logged or the marketplace recorded: the Stripe page, filtered to it.</summary>
public sealed class StripeEventSearchKind : ISearchKind
{
    /// <inheritdoc />
    public string Name => "stripe-event";

    /// <inheritdoc />
    public string Description => "Stripe event ids (evt_...)";

    /// <inheritdoc />
    public string? Sql(SearchInput input) => !input.Text.StartsWith("evt_", StringComparison.Ordinal) ? null : """
        SELECT 'stripe-event' AS kind, e.event_id AS id,
               format('Stripe event %s (%s), %s', e.event_id, e.event_type, e.what) AS label,
               e.purchase_id, NULL::uuid AS workspace_id, 0 AS rank
        FROM (
            (SELECT d.event_id, d.event_type, format('latest delivery %s', d.outcome) AS what, d.purchase_id
             FROM ops.stripe_deliveries d
             WHERE d.event_id = @Text
             ORDER BY d.id DESC
             LIMIT 1)
            UNION ALL
            (SELECT s.event_id, s.type, format('%s deliveries recorded by the marketplace', s.deliveries), NULL::uuid
             FROM stripe_webhook_events s
             WHERE s.event_id = @Text)
            LIMIT 1) AS e
        """;

    /// <inheritdoc />
    public SearchTarget Target(SearchRow row) => new(Name, row.Id, $"stripe?event={Uri.EscapeDataString(row.Id)}", row.Label);
}

/// <summary>A Stripe payment intent (<c>pi_...</c>): the purchase it paid for, else the Stripe page searched for it.</summary>
public sealed class PaymentIntentSearchKind : ISearchKind
{
    /// <inheritdoc />
    public string Name => "payment-intent";

    /// <inheritdoc />
    public string Description => "Stripe payment intent ids (pi_...)";

    /// <inheritdoc />
    public string? Sql(SearchInput input) => !input.Text.StartsWith("pi_", StringComparison.Ordinal) ? null : """
        SELECT 'payment-intent' AS kind, @Text AS id,
               CASE WHEN x.purchase_id IS NULL THEN format('Payment intent %s, naming no purchase', @Text)
                    ELSE format('Payment intent %s for purchase %s', @Text, x.purchase_id) END AS label,
               x.purchase_id, NULL::uuid AS workspace_id, 0 AS rank
        FROM (
            SELECT DISTINCT purchase_id FROM ops.stripe_deliveries WHERE payment_intent_id = @Text
            UNION
            SELECT purchase_id FROM ops.stripe_refunds WHERE payment_intent_id = @Text) AS x
        LIMIT 10
        """;

    /// <inheritdoc />
    public SearchTarget Target(SearchRow row) => row.PurchaseId is { } purchase
        ? new(Name, row.Id, $"purchases/{purchase}", row.Label)
        : new(Name, row.Id, $"stripe?q={Uri.EscapeDataString(row.Id)}", row.Label);
}

/// <summary>A database backend (a pid) of this database, running now or cancelled or terminated from the console before: the lock view.</summary>
public sealed class BackendSearchKind : ISearchKind
{
    /// <inheritdoc />
    public string Name => "backend";

    /// <inheritdoc />
    public string Description => "database backend pids";

    /// <inheritdoc />
    public string? Sql(SearchInput input) => input.Number is not (> 0 and <= int.MaxValue) ? null : """
        SELECT 'backend' AS kind, b.pid::text AS id, b.label, NULL::uuid AS purchase_id, NULL::uuid AS workspace_id, 0 AS rank
        FROM (
            (SELECT a.pid, format('Backend %s (%s, %s%s), running now', a.pid, coalesce(a.usename, 'unknown user'), coalesce(a.state, 'unknown state'),
                                  CASE WHEN a.wait_event_type = 'Lock' THEN ', waiting for a lock' ELSE '' END) AS label
             FROM pg_stat_activity a
             WHERE a.pid = @Number AND a.datname = current_database())
            UNION ALL
            (SELECT l.pid, format('Backend %s, %s by %s at %s (no longer running)', l.pid, l.action, l.actor, to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'))
             FROM ops.lock_actions l
             WHERE l.pid = @Number
             ORDER BY l.id DESC
             LIMIT 1)
            LIMIT 1) AS b
        """;

    /// <inheritdoc />
    public SearchTarget Target(SearchRow row) => new(Name, row.Id, $"locks?pid={row.Id.ToString(CultureInfo.InvariantCulture)}", row.Label);
}
