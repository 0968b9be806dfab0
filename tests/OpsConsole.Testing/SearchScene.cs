using Dapper;
using Npgsql;

namespace OpsConsole.Testing;

/// <summary>
/// One of everything the search box finds, written set-based as the superuser: a buyer and a seller (names unique to
/// the scene), two more workspaces whose names share a word, a lead bought in a completed card purchase with its audit
/// row, a Stripe delivery and payment intent for that purchase, a lead nobody bought, an event only the marketplace
/// recorded, and a cancel in the lock record of a pid no longer running.
/// </summary>
public sealed record SearchScene(
    Guid BuyerId, string BuyerName, Guid SellerId, string TwinWord, Guid PurchaseId, Guid BoughtLeadId, Guid FreeLeadId,
    string EventId, string MarketplaceOnlyEventId, string PaymentIntentId, int GonePid)
{
    /// <summary>Writes a scene; <paramref name="tag"/> keeps names and ids apart from other scenes in the same database.</summary>
    public static async Task<SearchScene> CreateAsync(NpgsqlDataSource superuser, string tag, CancellationToken cancellationToken = default)
    {
        var scene = new SearchScene(
            Guid.NewGuid(), $"Cedar {tag} Plumbing", Guid.NewGuid(), $"Twin{tag}", Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(),
            $"evt_{tag}_delivered", $"evt_{tag}_recorded", $"pi_{tag}_paid", 2_000_000_000 + Random.Shared.Next(100_000_000));
        const string sql = """
            INSERT INTO workspaces (id, name) VALUES
                (@BuyerId, @BuyerName), (@SellerId, @TwinWord || ' Seller'), (gen_random_uuid(), @TwinWord || ' Buyer');
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased) VALUES (@BuyerId, 100, 100), (@SellerId, 0, 0);
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price, marketplace_status, sold_count, first_sold_at, sold_at)
            VALUES (@BoughtLeadId, @SellerId, true, 12.50, 'sold', 1, now(), now()),
                   (@FreeLeadId, @SellerId, true, 7.00, 'available', 0, NULL, NULL);
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, status, payment_method, total_price, completed_at)
            VALUES (@PurchaseId, @BuyerId, 'completed', 'stripe', 12.50, now());
            INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price) VALUES (@PurchaseId, @BoughtLeadId, 12.50);
            INSERT INTO audit_logs (action, workspace_id, actor, details)
            VALUES ('purchase_completed', @BuyerId, 'search scene', jsonb_build_object('purchase_id', @PurchaseId, 'total', 12.50));
            INSERT INTO stripe_webhook_events (event_id, type) VALUES (@EventId, 'payment_intent.succeeded'), (@MarketplaceOnlyEventId, 'checkout.session.completed');
            INSERT INTO ops.stripe_deliveries (source, event_id, event_type, signature, outcome, http_status, purchase_id, payment_intent_id, duration_ms)
            VALUES ('webhook', @EventId, 'payment_intent.succeeded', 'valid', 'completed', 200, @PurchaseId, @PaymentIntentId, 3.5);
            INSERT INTO ops.lock_actions (actor_id, actor, action, pid, backend_start, username, query, reason, result)
            VALUES ('local:engineer', 'engineer', 'cancel', @GonePid, now() - interval '1 hour', 'marketplace', 'SELECT 1', 'search scene', 'cancelled');
            """;
        await using var connection = await superuser.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, scene, cancellationToken: cancellationToken));
        return scene;
    }
}
