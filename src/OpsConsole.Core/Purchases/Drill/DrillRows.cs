using System.Security.Cryptography;
using Dapper;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Database;

namespace OpsConsole.Core.Purchases.Drill;

/// <summary>The rows one drill made: its buyers (each with credits), the card buyer, and every round's leads in order.</summary>
internal sealed record DrillScene(string Tag, IReadOnlyList<AppBuyer> Buyers, AppBuyer CardBuyer, IReadOnlyList<Guid> LeadIds, decimal Balance);

/// <summary>
/// Creating, measuring and removing a drill's rows. Every row carries the drill's tag (<c>opsdrill-</c> and 12 hex
/// digits): workspace slugs start with it, e-mails (auth users, users, the partner) start with it and end at
/// <see cref="EmailDomain"/>, the topic and the query are named by it; leads, credits and purchases belong to its
/// workspaces. The clean-up finds rows by that tag alone, so it also removes what a crashed drill left behind, and
/// nothing without the tag is ever written or deleted.
/// </summary>
internal static class DrillRows
{
    /// <summary>What every drill tag starts with.</summary>
    public const string TagPrefix = "opsdrill-";

    /// <summary>The domain of every drill e-mail (<c>.invalid</c> is reserved: no mail can go out).</summary>
    public const string EmailDomain = "drill.opsconsole.invalid";

    public static string NewTag() => TagPrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    public static bool IsTag(string value) =>
        value.Length == TagPrefix.Length + 12 && value.StartsWith(TagPrefix, StringComparison.Ordinal)
        && value[TagPrefix.Length..].All(c => char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c));

    /// <summary>Creates the scene in one transaction: a failure half way leaves nothing.</summary>
    public static async Task<DrillScene> CreateAsync(NpgsqlDataSource target, string tag, DrillParameters parameters, CancellationToken cancellationToken)
    {
        const string leadsSql = """
            WITH seller AS (
                INSERT INTO workspaces (name, slug) VALUES (@Tag || ' seller', @Tag || '-seller') RETURNING id),
            topic AS (INSERT INTO global_topics (topic) VALUES (@Tag) RETURNING id),
            query AS (
                INSERT INTO queries (workspace_id, topic_id, name) SELECT seller.id, topic.id, @Tag FROM seller, topic
                RETURNING id, workspace_id),
            partner AS (
                INSERT INTO partners (name, email, verification_pass_rate, status)
                VALUES (@Tag || ' partner', @Tag || '-partner@' || @Domain, 96, 'active') RETURNING id),
            lead AS (
                INSERT INTO leads (workspace_id, query_id, company_data, partner_id, marketplace_price, is_marketplace_listed, marketplace_status)
                SELECT query.workspace_id, query.id, jsonb_build_object('name', @Tag || ' company ' || n, 'drill', @Tag),
                       partner.id, @Price, true, 'available'
                FROM query, partner, generate_series(1, @Count) AS n
                RETURNING id)
            SELECT array_agg(id ORDER BY id) FROM lead
            """;
        const string buyersSql = """
            WITH ws AS (
                INSERT INTO workspaces (name, slug)
                SELECT @Tag || ' buyer ' || n, @Tag || '-buyer-' || n FROM generate_series(1, @Count) AS n
                RETURNING id, slug),
            au AS (INSERT INTO auth.users (id, email) SELECT gen_random_uuid(), slug || '@' || @Domain FROM ws RETURNING id, email),
            u AS (
                INSERT INTO users (auth_user_id, workspace_id, email, full_name, role)
                SELECT au.id, ws.id, au.email, 'Drill buyer', 'owner' FROM au JOIN ws ON au.email = ws.slug || '@' || @Domain
                RETURNING id, workspace_id, email),
            credits AS (
                INSERT INTO workspace_credits (workspace_id, balance, total_purchased) SELECT workspace_id, @Balance, @Balance FROM u)
            SELECT workspace_id AS WorkspaceId, id AS UserId FROM u ORDER BY email
            """;
        // Enough for every lead of every round at every retry, so the app's own balance check never refuses a drill buyer.
        var balance = Math.Ceiling(parameters.Price * parameters.Leads * parameters.Rounds * (parameters.Retries + 1)) + 1;
        var result = await new OpsTransactions(target).RunAsync<DrillScene>(async tx =>
        {
            var leadIds = await tx.QuerySingleAsync<Guid[]>(leadsSql, new
            {
                Tag = tag, Domain = EmailDomain, parameters.Price, Count = parameters.Leads * parameters.Rounds,
            });
            var buyers = await tx.QueryAsync<AppBuyer>(buyersSql, new { Tag = tag, Domain = EmailDomain, Count = parameters.Buyers + 1, Balance = balance });
            return new DrillScene(tag, buyers.Take(parameters.Buyers).ToList(), buyers[^1], leadIds, balance);
        }, cancellationToken);
        return result.Value;
    }

    /// <summary>
    /// Deletes the rows of one drill (<paramref name="tag"/>) or of every drill (null), children first, in one
    /// transaction; returns how many rows went. Rows the purchase functions wrote about drill rows (audit rows) go too.
    /// </summary>
    public static async Task<int> RemoveAsync(NpgsqlDataSource target, string? tag, CancellationToken cancellationToken)
    {
        const string findSql = """
            WITH ws AS (SELECT id FROM workspaces WHERE slug LIKE @Prefix || '%')
            SELECT array(SELECT id FROM ws) AS Workspaces,
                   array(SELECT id FROM leads WHERE workspace_id IN (SELECT id FROM ws)) AS Leads,
                   array(SELECT id FROM marketplace_purchases WHERE buyer_workspace_id IN (SELECT id FROM ws)) AS Purchases,
                   array(SELECT id FROM users WHERE workspace_id IN (SELECT id FROM ws)) AS Users
            """;
        // Children before parents, so no foreign key's ON DELETE rule decides what goes.
        string[] deletes =
        [
            """
            DELETE FROM audit_logs WHERE workspace_id = ANY(@Workspaces) OR user_id = ANY(@Users)
                OR resource_id = ANY(@Purchases) OR resource_id = ANY(@Leads) OR resource_id = ANY(@Workspaces)
            """,
            "DELETE FROM marketplace_purchase_items WHERE purchase_id = ANY(@Purchases) OR lead_id = ANY(@Leads)",
            "DELETE FROM marketplace_purchases WHERE id = ANY(@Purchases)",
            "DELETE FROM workspace_credits WHERE workspace_id = ANY(@Workspaces)",
            "DELETE FROM leads WHERE id = ANY(@Leads)",
            "DELETE FROM queries WHERE workspace_id = ANY(@Workspaces)",
            "DELETE FROM users WHERE id = ANY(@Users)",
            "DELETE FROM auth.users WHERE email LIKE @Prefix || '%' AND email LIKE '%@' || @Domain",
            "DELETE FROM partners WHERE email LIKE @Prefix || '%' AND email LIKE '%@' || @Domain",
            "DELETE FROM global_topics WHERE topic LIKE @Prefix || '%'",
            "DELETE FROM workspaces WHERE id = ANY(@Workspaces)",
        ];
        var prefix = tag ?? TagPrefix;
        var result = await new OpsTransactions(target).RunAsync<int>(async tx =>
        {
            var found = await tx.QuerySingleAsync<DrillRowIds>(findSql, new { Prefix = prefix });
            var removed = 0;
            foreach (var sql in deletes)
            {
                removed += await tx.ExecuteAsync(sql, new
                {
                    found.Workspaces, found.Leads, found.Purchases, found.Users, Prefix = prefix, Domain = EmailDomain,
                });
            }

            return removed;
        }, cancellationToken);
        return result.Value;
    }

    /// <summary>Counts the failures on the scene's rows (the retries are counted as they happen, not here).</summary>
    public static async Task<DrillTally> MeasureAsync(NpgsqlDataSource target, DrillScene scene, int maxExamples, CancellationToken cancellationToken)
    {
        const string sql = """
            WITH completed AS (
                SELECT p.id, p.buyer_workspace_id, p.payment_method, i.lead_id, i.price_at_purchase
                FROM marketplace_purchases p JOIN marketplace_purchase_items i ON i.purchase_id = p.id
                WHERE p.buyer_workspace_id = ANY(@Buyers) AND p.status = 'completed'),
            twice AS (
                SELECT l.id FROM leads l
                WHERE l.id = ANY(@Leads)
                  AND (coalesce(l.sold_count, 0) > 1 OR (SELECT count(*) FROM completed c WHERE c.lead_id = l.id) > 1)),
            off_items AS (
                SELECT w.workspace_id AS id FROM workspace_credits w
                WHERE w.workspace_id = ANY(@Buyers)
                  AND coalesce(w.total_purchased, 0) + coalesce(w.total_earned, 0) - w.balance
                      <> coalesce((SELECT sum(c.price_at_purchase) FROM completed c
                                   WHERE c.buyer_workspace_id = w.workspace_id AND c.payment_method = 'credits'), 0)),
            off_formula AS (
                SELECT workspace_id AS id FROM workspace_credits
                WHERE workspace_id = ANY(@Buyers)
                  AND balance <> coalesce(total_purchased, 0) + coalesce(total_earned, 0) - coalesce(total_used, 0)),
            card AS (
                SELECT p.id, p.status,
                       EXISTS (SELECT 1 FROM marketplace_purchase_items i JOIN completed c ON c.lead_id = i.lead_id
                               WHERE i.purchase_id = p.id AND c.payment_method = 'credits') AS taken
                FROM marketplace_purchases p
                WHERE p.buyer_workspace_id = @CardBuyer AND p.payment_method = 'stripe'),
            sold_again AS (SELECT id FROM card WHERE taken AND status = 'completed')
            SELECT (SELECT count(DISTINCT id)::int FROM completed) AS CompletedPurchases,
                   (SELECT count(*)::int FROM card WHERE taken) AS LateCardPayments,
                   (SELECT count(*)::int FROM card WHERE status = 'refund_required') AS RefundRequired,
                   (SELECT count(*)::int FROM twice) AS SoldTwice,
                   array(SELECT id FROM twice ORDER BY id LIMIT @Max) AS SoldTwiceExamples,
                   (SELECT count(*)::int FROM off_items) AS OffItems,
                   array(SELECT id FROM off_items ORDER BY id LIMIT @Max) AS OffItemsExamples,
                   (SELECT count(*)::int FROM off_formula) AS OffFormula,
                   array(SELECT id FROM off_formula ORDER BY id LIMIT @Max) AS OffFormulaExamples,
                   (SELECT count(*)::int FROM sold_again) AS SoldAgain,
                   array(SELECT id FROM sold_again ORDER BY id LIMIT @Max) AS SoldAgainExamples
            """;
        await using var connection = await target.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleAsync<DrillTally>(new CommandDefinition(sql, new
        {
            Buyers = scene.Buyers.Append(scene.CardBuyer).Select(b => b.WorkspaceId).ToArray(),
            Leads = scene.LeadIds.ToArray(),
            CardBuyer = scene.CardBuyer.WorkspaceId,
            Max = maxExamples,
        }, cancellationToken: cancellationToken));
    }

    private sealed class DrillRowIds
    {
        public Guid[] Workspaces { get; init; } = [];
        public Guid[] Leads { get; init; } = [];
        public Guid[] Purchases { get; init; } = [];
        public Guid[] Users { get; init; } = [];
    }
}

/// <summary>What <see cref="DrillRows.MeasureAsync"/> counted.</summary>
internal sealed class DrillTally
{
    public int CompletedPurchases { get; init; }
    public int LateCardPayments { get; init; }
    public int RefundRequired { get; init; }
    public int SoldTwice { get; init; }
    public Guid[] SoldTwiceExamples { get; init; } = [];
    public int OffItems { get; init; }
    public Guid[] OffItemsExamples { get; init; } = [];
    public int OffFormula { get; init; }
    public Guid[] OffFormulaExamples { get; init; } = [];
    public int SoldAgain { get; init; }
    public Guid[] SoldAgainExamples { get; init; } = [];
}
