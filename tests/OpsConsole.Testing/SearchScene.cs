using Dapper;
using Npgsql;

namespace OpsConsole.Testing;

/// <summary>
/// One of everything the search box finds, written set-based as the superuser: a buyer and a seller (names unique to
/// the scene), two more workspaces whose names share a word, a lead bought in a completed card purchase with its audit
/// row, a Stripe delivery and payment intent for that purchase, a lead nobody bought, an event recorded only in
/// ops.stripe_webhook_events, and a cancel in the lock record of a pid no longer running.
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
        // As the marketplace has them: workspaces with a slug, the buyer's owner user (buyer_user_id is NOT NULL), the
        // seller's leads under a query with company_data, the item's price_at_purchase, the marketplace's audit row
        // naming the purchase by resource_id, and the event in ops.stripe_webhook_events.
        const string sql = """
            INSERT INTO workspaces (id, name, slug) VALUES
                (@BuyerId, @BuyerName, 'scene-' || replace(gen_random_uuid()::text, '-', '')),
                (@SellerId, @TwinWord || ' Seller', 'scene-' || replace(gen_random_uuid()::text, '-', '')),
                (gen_random_uuid(), @TwinWord || ' Buyer', 'scene-' || replace(gen_random_uuid()::text, '-', ''));
            INSERT INTO auth.users (id, email) VALUES (@BuyerId, 'scene-' || @BuyerId || '@example.com');
            INSERT INTO users (id, auth_user_id, workspace_id, email, full_name, role)
            VALUES (@BuyerUserId, @BuyerId, @BuyerId, 'scene-' || @BuyerId || '@example.com', 'Owner of ' || @BuyerName, 'owner');
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased) VALUES (@BuyerId, 100, 100), (@SellerId, 0, 0);
            WITH topic AS (INSERT INTO global_topics (topic) VALUES ('Search scene') RETURNING id)
            INSERT INTO queries (id, workspace_id, topic_id, name) SELECT @QueryId, @SellerId, topic.id, 'Scene' FROM topic;
            INSERT INTO leads (id, workspace_id, query_id, company_data, is_marketplace_listed, marketplace_price, marketplace_status,
                               sold_count, first_sold_at, sold_at)
            VALUES (@BoughtLeadId, @SellerId, @QueryId, '{"name": "Bought Co"}', true, 12.50, 'sold', 1, now(), now()),
                   (@FreeLeadId, @SellerId, @QueryId, '{"name": "Free Co"}', true, 7.00, 'available', 0, NULL, NULL);
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, buyer_user_id, total_leads, status, payment_method, total_price,
                                               stripe_payment_intent_id, completed_at)
            VALUES (@PurchaseId, @BuyerId, @BuyerUserId, 1, 'completed', 'stripe', 12.50, @PaymentIntentId, now());
            INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price_at_purchase) VALUES (@PurchaseId, @BoughtLeadId, 12.50);
            INSERT INTO audit_logs (workspace_id, user_id, action, resource_type, resource_id, new_values)
            VALUES (@BuyerId, @BuyerUserId, 'marketplace_purchase_completed', 'marketplace_purchase', @PurchaseId,
                    jsonb_build_object('payment_method', 'stripe', 'total_price', 12.50));
            INSERT INTO ops.stripe_webhook_events (event_id, type, purchase_id, payment_intent_id)
            VALUES (@EventId, 'payment_intent.succeeded', @PurchaseId, @PaymentIntentId), (@MarketplaceOnlyEventId, 'checkout.session.completed', NULL, NULL);
            INSERT INTO ops.stripe_deliveries (source, event_id, event_type, signature, outcome, http_status, purchase_id, payment_intent_id, duration_ms)
            VALUES ('webhook', @EventId, 'payment_intent.succeeded', 'valid', 'completed', 200, @PurchaseId, @PaymentIntentId, 3.5);
            INSERT INTO ops.lock_actions (actor_id, actor, action, pid, backend_start, username, query, reason, result)
            VALUES ('local:engineer', 'engineer', 'cancel', @GonePid, now() - interval '1 hour', 'marketplace', 'SELECT 1', 'search scene', 'cancelled');
            """;
        var parameters = new DynamicParameters(scene);
        parameters.Add("BuyerUserId", Guid.NewGuid());
        parameters.Add("QueryId", Guid.NewGuid());
        await using var connection = await superuser.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
        return scene;
    }
}
