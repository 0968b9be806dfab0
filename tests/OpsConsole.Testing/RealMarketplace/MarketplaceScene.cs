using Dapper;
using Npgsql;
using OpsConsole.Core.Purchases.Drill;

namespace OpsConsole.Testing.RealMarketplace;

/// <summary>
/// Rows for a purchase scene on a <see cref="RealMarketplaceDatabase"/>: a seller workspace, a partner with the
/// marketplace's default commission, listed leads at one price, and buyers with a credit balance
/// (bought credits, so <c>balance = total_purchased</c> to start with).
/// </summary>
public sealed record MarketplaceScene(IReadOnlyList<AppBuyer> Buyers, IReadOnlyList<Guid> LeadIds, Guid PartnerId)
{
    /// <summary>Creates the rows.</summary>
    public static async Task<MarketplaceScene> CreateAsync(
        NpgsqlDataSource dataSource, int buyers, int leads, decimal price, int balance, CancellationToken cancellationToken)
    {
        const string sql = """
            WITH seller AS (
                INSERT INTO workspaces (name, slug) VALUES ('Seller', 'seller-' || substr(md5(random()::text), 1, 8)) RETURNING id),
            topic AS (INSERT INTO global_topics (topic) VALUES ('B2B software') RETURNING id),
            query AS (INSERT INTO queries (workspace_id, topic_id) SELECT seller.id, topic.id FROM seller, topic RETURNING id, workspace_id),
            partner AS (
                INSERT INTO partners (name, email, verification_pass_rate, status)
                VALUES ('Partner', 'partner-' || substr(md5(random()::text), 1, 8) || '@example.com', 96, 'active') RETURNING id),
            lead AS (
                INSERT INTO leads (workspace_id, query_id, company_data, partner_id, marketplace_price, is_marketplace_listed, marketplace_status)
                SELECT query.workspace_id, query.id, jsonb_build_object('name', 'Company ' || n), partner.id, @Price, true, 'available'
                FROM query, partner, generate_series(1, @Leads) AS n
                RETURNING id)
            SELECT (SELECT id FROM partner) AS partner_id, array_agg(lead.id ORDER BY lead.id) AS lead_ids FROM lead
            """;
        const string buyerSql = """
            WITH ws AS (INSERT INTO workspaces (name, slug) VALUES ('Buyer ' || @N, 'buyer-' || @N || '-' || substr(md5(random()::text), 1, 8)) RETURNING id),
            au AS (INSERT INTO auth.users (email) VALUES ('buyer' || @N || '@example.com') RETURNING id),
            u AS (INSERT INTO users (auth_user_id, workspace_id, email, full_name, role)
                  SELECT au.id, ws.id, 'buyer' || @N || '@example.com', 'Buyer ' || @N, 'owner' FROM au, ws RETURNING id, workspace_id),
            c AS (INSERT INTO workspace_credits (workspace_id, balance, total_purchased) SELECT workspace_id, @Balance, @Balance FROM u)
            SELECT workspace_id AS WorkspaceId, id AS UserId FROM u
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var (partnerId, leadIds) = await connection.QuerySingleAsync<(Guid, Guid[])>(
            new CommandDefinition(sql, new { Price = price, Leads = leads }, cancellationToken: cancellationToken));
        var list = new List<AppBuyer>();
        for (var n = 1; n <= buyers; n++)
        {
            list.Add(await connection.QuerySingleAsync<AppBuyer>(
                new CommandDefinition(buyerSql, new { N = n, Balance = balance }, cancellationToken: cancellationToken)));
        }

        return new MarketplaceScene(list, leadIds, partnerId);
    }
}
