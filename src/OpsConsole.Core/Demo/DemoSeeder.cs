using Dapper;
using Npgsql;

namespace OpsConsole.Core.Demo;

/// <summary>
/// Fills an empty marketplace with demo data, once, shaped as the marketplace's own: workspaces with slugs and owner users,
/// partners, topics and queries, listed leads with their company data, and credit balances, some of which have drifted
/// the way the deployment guide fears, so that the credit editor has work.
/// </summary>
public sealed class DemoSeeder(NpgsqlDataSource dataSource)
{
    /// <summary>The demo workspaces, in id order (the ids are fixed, see <see cref="WorkspaceId"/>).</summary>
    public static IReadOnlyList<string> WorkspaceNames { get; } =
    [
        "Acme Roofing", "Bluebird Solar", "Cedar Plumbing", "Delta Movers", "Evergreen Landscaping",
        "Falcon Insurance", "Granite Kitchens", "Harbor Dental", "Ironclad Security", "Juniper Realty",
        "Kestrel Windows", "Lumen Electric",
    ];

    /// <summary>The fixed id of the demo workspace number <paramref name="number"/> (1-based).</summary>
    public static Guid WorkspaceId(int number) => Guid.Parse($"00000000-0000-4000-8000-{number:D12}");

    /// <summary>
    /// Seeds the demo data unless it is there already; returns false when it was. Safe to call from
    /// several processes at once: they queue on an advisory lock and only the first seeds.
    /// </summary>
    public async Task<bool> SeedAsync(int leadCount, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(leadCount);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        await connection.ExecuteAsync(new CommandDefinition(SeedLockSql, transaction: transaction, cancellationToken: cancellationToken));
        var alreadySeeded = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            IsSeededSql, new { FirstWorkspace = WorkspaceId(1) }, transaction, cancellationToken: cancellationToken));
        if (alreadySeeded)
        {
            return false;
        }

        await connection.ExecuteAsync(new CommandDefinition(
            SeedWorkspacesAndCreditsSql, new { Names = WorkspaceNames.ToArray() }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            InsertLeadsSql, new { Count = leadCount, Sellers = TradingWorkspaceIds() }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            InsertUnlistedLeadsSql, new { Count = Math.Max(leadCount / 20, 1), Sellers = DemoWorkspaceIds() }, transaction, cancellationToken: cancellationToken));

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Lists <paramref name="count"/> new available leads from random demo sellers (the demo traffic's restock).</summary>
    public async Task<int> ListMoreLeadsAsync(int count, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            InsertLeadsSql, new { Count = count, Sellers = TradingWorkspaceIds() }, cancellationToken: cancellationToken));
    }

    /// <summary>The ids of the demo workspaces, the only ones demo traffic buys from and for.</summary>
    public static Guid[] DemoWorkspaceIds() => [.. Enumerable.Range(1, WorkspaceNames.Count).Select(WorkspaceId)];

    private static Guid[] TradingWorkspaceIds() => [.. DemoWorkspaceIds().Except(DriftedWorkspaces)];

    private const string SeedLockSql = "SELECT pg_advisory_xact_lock(hashtext('opsconsole.demo-seed'))";

    private const string IsSeededSql = "SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = @FirstWorkspace)";

    /// <summary>
    /// The drifted demo workspaces (a purchase charged twice, a debit without total_used, a lost deduction). They take
    /// no part in demo traffic, neither buying nor selling, so that their credit rows stay at the version a support
    /// person looked at while fixing them.
    /// </summary>
    public static IReadOnlyList<Guid> DriftedWorkspaces { get; } = [WorkspaceId(3), WorkspaceId(7), WorkspaceId(10)];

    // The marketplace's shape: each workspace has a slug, an owner (auth.users + users) and a partner who uploads its
    // leads under a query of one of the topics (leads.query_id is NOT NULL, company_data needs a name). Every workspace
    // starts with bought credits only; a few earlier credit purchases are on record (completed, with their items and
    // partner commissions and sold leads, three days old so that the live KPI windows do not see them), and each
    // workspace's totals follow those records: balance = total_purchased + total_earned - total_used. Sellers are not
    // credited at sale (their partners earn the items' commission). Except three workspaces, which carry the drift of
    // the races the guide describes, each with the records that explain it:
    //   3  bought leads for 612.50 and was charged twice: total_used says 612.50 (as the records do), the balance
    //      fell by 1,225.00; the fix (+612.50 to the balance) is above Credits:ApprovalThreshold, so it needs a checker;
    //   7  bought three leads for 42.00 and its balance was debited, but total_used still says 0 (the counter's update lost);
    //  10  bought a lead for 18.25: total_used says so, but the deduction from the balance was lost.
    // Workspaces 11 and 12 are nearly broke, so that demo purchases also meet insufficient credits.
    private const string SeedWorkspacesAndCreditsSql = """
        CREATE TEMP TABLE demo_ws ON COMMIT DROP AS
        SELECT n, name,
               ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid AS id,
               trim(BOTH '-' FROM regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g')) AS slug,
               ('00000000-0000-4000-b000-' || lpad(n::text, 12, '0'))::uuid AS auth_id,
               ('00000000-0000-4000-c000-' || lpad(n::text, 12, '0'))::uuid AS user_id,
               ('00000000-0000-4000-d000-' || lpad(n::text, 12, '0'))::uuid AS partner_id,
               ('00000000-0000-4000-e000-' || lpad(n::text, 12, '0'))::uuid AS query_id
        FROM unnest(@Names::text[]) WITH ORDINALITY AS t(name, n);

        INSERT INTO workspaces (id, name, slug) SELECT id, name, slug FROM demo_ws;
        INSERT INTO auth.users (id, email) SELECT auth_id, 'owner@' || slug || '.example.com' FROM demo_ws;
        INSERT INTO users (id, auth_user_id, workspace_id, email, full_name, role, plan)
        SELECT user_id, auth_id, id, 'owner@' || slug || '.example.com', 'Owner of ' || name, 'owner', 'pro' FROM demo_ws;
        INSERT INTO partners (id, name, email, status, verification_pass_rate, base_commission_rate)
        SELECT partner_id, name || ' Lead Partners', 'partners@' || slug || '.example.com', 'active',
               CASE WHEN n % 3 = 0 THEN 96 ELSE 88 END, 0.30
        FROM demo_ws;
        INSERT INTO global_topics (id, topic) VALUES
            ('00000000-0000-4000-f000-000000000001', 'Home services'),
            ('00000000-0000-4000-f000-000000000002', 'Insurance and finance'),
            ('00000000-0000-4000-f000-000000000003', 'Real estate');
        INSERT INTO queries (id, workspace_id, topic_id, name)
        SELECT query_id, id, ('00000000-0000-4000-f000-' || lpad((1 + n % 3)::text, 12, '0'))::uuid, name || ' buyers in market'
        FROM demo_ws;

        CREATE TEMP TABLE demo_history (purchase_no int, buyer int, seller int, price numeric(12,2)) ON COMMIT DROP;
        INSERT INTO demo_history VALUES (1, 3, 1, 612.50), (2, 7, 2, 12.00), (3, 7, 2, 14.50), (4, 7, 2, 15.50), (5, 10, 4, 18.25);

        INSERT INTO leads (id, workspace_id, query_id, partner_id, company_data, is_marketplace_listed, marketplace_price,
                           marketplace_status, sold_count, first_sold_at, sold_at, created_at)
        SELECT ('00000000-0000-4000-a000-' || lpad(h.purchase_no::text, 12, '0'))::uuid, s.id, s.query_id, s.partner_id,
               jsonb_build_object('name', 'Earlier Customer ' || h.purchase_no, 'domain', 'earlier-' || h.purchase_no || '.example.com',
                                  'industry', 'Services', 'location', 'Austin, TX', 'size', '11-50'),
               true, h.price, 'sold', 1, now() - interval '3 days', now() - interval '3 days', now() - interval '20 days'
        FROM demo_history AS h JOIN demo_ws AS s ON s.n = h.seller;

        INSERT INTO marketplace_purchases (id, buyer_workspace_id, buyer_user_id, total_leads, status, payment_method, total_price,
                                           credits_used, created_at, completed_at)
        SELECT ('00000000-0000-4000-9000-' || lpad(h.purchase_no::text, 12, '0'))::uuid, b.id, b.user_id, 1,
               'completed', 'credits', h.price, h.price, now() - interval '3 days', now() - interval '3 days'
        FROM demo_history AS h JOIN demo_ws AS b ON b.n = h.buyer;

        INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price_at_purchase, partner_id, commission_rate, commission_amount,
                                                commission_status, commission_payable_at)
        SELECT ('00000000-0000-4000-9000-' || lpad(h.purchase_no::text, 12, '0'))::uuid,
               ('00000000-0000-4000-a000-' || lpad(h.purchase_no::text, 12, '0'))::uuid, h.price,
               s.partner_id, 0.30, round(h.price * 0.30, 4), 'pending_holdback', now() - interval '3 days' + interval '14 days'
        FROM demo_history AS h JOIN demo_ws AS s ON s.n = h.seller;

        UPDATE partners AS p SET total_leads_sold = coalesce(p.total_leads_sold, 0) + c.sold, total_earnings = coalesce(p.total_earnings, 0) + c.earned
        FROM (SELECT s.partner_id, count(*) AS sold, sum(round(h.price * 0.30, 2)) AS earned
              FROM demo_history AS h JOIN demo_ws AS s ON s.n = h.seller GROUP BY s.partner_id) AS c
        WHERE p.id = c.partner_id;

        INSERT INTO workspace_credits (workspace_id, balance, total_purchased, total_earned, total_used)
        SELECT id,
               purchased - used + CASE n WHEN 3 THEN -612.50 WHEN 10 THEN 18.25 ELSE 0 END,
               purchased,
               0,
               used - CASE n WHEN 7 THEN 42.00 ELSE 0 END
        FROM (
            SELECT w.id, w.n, CASE WHEN w.n >= 11 THEN 20.00 ELSE 2000.00 + w.n * 250 END AS purchased,
                   coalesce((SELECT sum(price) FROM demo_history WHERE buyer = w.n), 0) AS used
            FROM demo_ws AS w
        ) AS amounts;
        """;

    // A lead as the marketplace lists one: from the seller's partner, under its query (both with the ids the seed gave
    // them, see SeedWorkspacesAndCreditsSql), with the company it describes.
    private const string InsertLeadsSql = """
        WITH pick AS (
            SELECT (@Sellers::uuid[])[1 + floor(random() * cardinality(@Sellers::uuid[]))::int] AS ws, g
            FROM generate_series(1, @Count) AS g)
        INSERT INTO leads (workspace_id, query_id, partner_id, company_data, is_marketplace_listed, marketplace_price, marketplace_status,
                           intent_score_calculated, freshness_score)
        SELECT pick.ws, ('00000000-0000-4000-e000-' || right(pick.ws::text, 12))::uuid,
               ('00000000-0000-4000-d000-' || right(pick.ws::text, 12))::uuid,
               jsonb_build_object(
                   'name', (ARRAY['Northwind', 'Contoso', 'Fabrikam', 'Tailspin', 'Wingtip', 'Litware', 'Adatum', 'Proseware'])[1 + pick.g % 8]
                           || ' ' || (ARRAY['Holdings', 'Group', 'Partners', 'Homes', 'Services', 'Co'])[1 + pick.g % 6] || ' ' || pick.g,
                   'domain', 'lead-' || pick.g || '.example.com',
                   'industry', (ARRAY['Construction', 'Healthcare', 'Insurance', 'Real Estate', 'Retail'])[1 + pick.g % 5],
                   'location', (ARRAY['Austin, TX', 'Denver, CO', 'Portland, OR', 'Raleigh, NC', 'Tampa, FL'])[1 + pick.g % 5],
                   'size', (ARRAY['1-10', '11-50', '51-200', '201-500'])[1 + pick.g % 4],
                   'intent_score', 40 + pick.g % 60),
               true, round((5 + random() * 35)::numeric, 2), 'available', 40 + pick.g % 60, 100
        FROM pick
        """;

    // Leads a seller has not listed yet (the marketplace's default status, draft).
    private const string InsertUnlistedLeadsSql = """
        INSERT INTO leads (workspace_id, query_id, partner_id, company_data, is_marketplace_listed, marketplace_price, marketplace_status)
        SELECT w.id, ('00000000-0000-4000-e000-' || right(w.id::text, 12))::uuid, ('00000000-0000-4000-d000-' || right(w.id::text, 12))::uuid,
               jsonb_build_object('name', 'Unlisted Prospect ' || i, 'domain', 'prospect-' || i || '.example.com'),
               false, NULL, 'draft'
        FROM generate_series(1, @Count) AS i
        CROSS JOIN LATERAL (SELECT (@Sellers::uuid[])[1 + (i % cardinality(@Sellers::uuid[]))] AS id) AS w
        """;
}
