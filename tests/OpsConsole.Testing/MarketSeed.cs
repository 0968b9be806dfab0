using Dapper;
using Npgsql;
using Xunit;

namespace OpsConsole.Testing;

/// <summary>
/// Bulk marketplace data, set-based, as the marketplace's schema has it: workspaces with an owner user and a
/// consistent credit row, listed leads with their query and partner. The one seed of the
/// purchase, concurrency, probe and page tests and of the benchmarks.
/// </summary>
public static class MarketSeed
{
    // A workspace as the marketplace has it: a slug, and an owner (auth.users + users), since a purchase needs
    // buyer_user_id. The owner's auth id is the workspace's id, which keeps the seed set-based and unique.
    private const string WorkspacesSql = """
        WITH w AS (
            INSERT INTO workspaces (name, slug)
            SELECT 'Workspace ' || n, 'ws-' || replace(gen_random_uuid()::text, '-', '') FROM generate_series(1, @Count) AS n
            RETURNING id, name),
        au AS (INSERT INTO auth.users (id, email) SELECT id, 'owner-' || id || '@example.com' FROM w RETURNING id, email),
        u AS (
            INSERT INTO users (auth_user_id, workspace_id, email, full_name, role)
            SELECT au.id, au.id, au.email, 'Owner of ' || w.name, 'owner' FROM au JOIN w ON w.id = au.id
            RETURNING workspace_id)
        """;

    /// <summary>
    /// Creates <paramref name="count"/> workspaces, each with an owner user and a consistent credit row
    /// (purchased = balance); returns their ids.
    /// </summary>
    public static async Task<Guid[]> WorkspacesAsync(NpgsqlDataSource dataSource, int count, decimal balance, CancellationToken cancellationToken = default)
    {
        const string sql = WorkspacesSql + """
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased)
            SELECT workspace_id, @Balance, @Balance FROM u
            RETURNING workspace_id
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<Guid>(new CommandDefinition(sql, new { Count = count, Balance = balance }, cancellationToken: cancellationToken))).ToArray();
    }

    /// <summary>Creates <paramref name="count"/> workspaces with an owner user and no credit row (a seller, a buyer who never topped up).</summary>
    public static async Task<Guid[]> WorkspacesWithoutCreditsAsync(NpgsqlDataSource dataSource, int count, CancellationToken cancellationToken = default)
    {
        const string sql = WorkspacesSql + "SELECT workspace_id FROM u";
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<Guid>(new CommandDefinition(sql, new { Count = count }, cancellationToken: cancellationToken))).ToArray();
    }

    /// <summary>The owner user of a workspace made here (users.id, what marketplace_purchases.buyer_user_id holds).</summary>
    public static async Task<Guid> OwnerUserAsync(NpgsqlDataSource dataSource, Guid workspaceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleAsync<Guid>(new CommandDefinition(
            "SELECT id FROM users WHERE workspace_id = @Id ORDER BY (role = 'owner') DESC, created_at, id LIMIT 1",
            new { Id = workspaceId }, cancellationToken: cancellationToken));
    }

    // Leads as the marketplace has them: each seller workspace gets a query (leads.query_id is NOT NULL) under a
    // topic, and a partner whose commission the sale pays; company_data holds the name it must hold.
    private const string SellersSql = """
        WITH s AS MATERIALIZED (
            SELECT ws, gen_random_uuid() AS query_id, gen_random_uuid() AS partner_id FROM (SELECT DISTINCT unnest(@Sellers::uuid[]) AS ws) AS d),
        topic AS (INSERT INTO global_topics (topic) VALUES ('Seeded leads') RETURNING id),
        q AS (INSERT INTO queries (id, workspace_id, topic_id, name) SELECT s.query_id, s.ws, topic.id, 'Seeded' FROM s, topic),
        p AS (INSERT INTO partners (id, name, email, status, verification_pass_rate)
              SELECT s.partner_id, 'Partner ' || left(s.ws::text, 8), 'partner-' || s.partner_id || '@example.com', 'active', 90 FROM s)
        """;

    /// <summary>
    /// Lists <paramref name="perSeller"/> available leads for each seller workspace at <paramref name="price"/>, each
    /// from a partner of that seller (made here); returns their ids.
    /// </summary>
    public static async Task<Guid[]> ListedLeadsAsync(
        NpgsqlDataSource dataSource, IReadOnlyList<Guid> sellers, int perSeller, decimal price, CancellationToken cancellationToken = default)
    {
        const string sql = SellersSql + """
            INSERT INTO leads (workspace_id, query_id, company_data, partner_id, is_marketplace_listed, marketplace_price, marketplace_status)
            SELECT s.ws, s.query_id, jsonb_build_object('name', 'Company ' || n, 'industry', 'Software'), s.partner_id, true, @Price, 'available'
            FROM s, generate_series(1, @PerSeller) AS n
            RETURNING id
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<Guid>(new CommandDefinition(
            sql, new { Sellers = sellers.ToArray(), PerSeller = perSeller, Price = price }, cancellationToken: cancellationToken))).ToArray();
    }

    /// <summary>
    /// Lists <paramref name="count"/> available leads, each from a seller drawn at random (not round-robin: buyers
    /// walking their slices in step would then touch the same sellers at the same moment), priced 1.00 to 9.99.
    /// </summary>
    public static async Task<Guid[]> ScatteredLeadsAsync(
        NpgsqlDataSource dataSource, IReadOnlyList<Guid> sellers, int count, CancellationToken cancellationToken = default)
    {
        const string sql = SellersSql + """
            , pick AS (SELECT n, (@Sellers::uuid[])[1 + floor(random() * cardinality(@Sellers::uuid[]))::int] AS ws FROM generate_series(1, @Count) AS n)
            INSERT INTO leads (workspace_id, query_id, company_data, partner_id, is_marketplace_listed, marketplace_price, marketplace_status)
            SELECT s.ws, s.query_id, jsonb_build_object('name', 'Company ' || pick.n), s.partner_id, true, 1 + (pick.n % 900) / 100.0, 'available'
            FROM pick JOIN s ON s.ws = pick.ws
            RETURNING id
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<Guid>(new CommandDefinition(
            sql, new { Sellers = sellers.ToArray(), Count = count }, commandTimeout: 600, cancellationToken: cancellationToken))).ToArray();
    }

    /// <summary>Asserts the contract's five invariants, listing every offending row when one breaks.</summary>
    public static Task AssertInvariantsAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default) =>
        Invariants.AssertAllInvariantsAsync(dataSource, cancellationToken);

    /// <summary>
    /// deadlocks of this database in pg_stat_database. Backends add their counts when they end, so this first
    /// waits (with a deadline) until no session of the purchase path (application name OpsConsole) is left:
    /// dispose the services first.
    /// </summary>
    public static async Task<long> DeadlocksAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                   "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'OpsConsole'",
                   cancellationToken: cancellationToken)) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "Sessions of the test database did not end within 30 s.");
            await Task.Delay(20, cancellationToken);
        }

        // The statistics collector's snapshot may be cached for the transaction: read it fresh.
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_stat_clear_snapshot()", cancellationToken: cancellationToken));
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()", cancellationToken: cancellationToken));
    }
}
