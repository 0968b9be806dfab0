using Dapper;
using Npgsql;

namespace OpsConsole.Core.Demo;

/// <summary>
/// Fills an empty marketplace with demo data, once: workspaces, listed leads and credit balances,
/// some of which have drifted the way the deployment guide fears, so that the credit editor has work.
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
            InsertLeadsSql, new { Count = leadCount, Sellers = DemoWorkspaceIds() }, transaction, cancellationToken: cancellationToken));
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
            InsertLeadsSql, new { Count = count, Sellers = DemoWorkspaceIds() }, cancellationToken: cancellationToken));
    }

    /// <summary>The ids of the demo workspaces, the only ones demo traffic buys from and for.</summary>
    public static Guid[] DemoWorkspaceIds() => [.. Enumerable.Range(1, WorkspaceNames.Count).Select(WorkspaceId)];

    private const string SeedLockSql = "SELECT pg_advisory_xact_lock(hashtext('opsconsole.demo-seed'))";

    private const string IsSeededSql = "SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = @FirstWorkspace)";

    // Every workspace starts with bought credits only (no earnings or use yet, so that invariant 4, credits
    // conserved, holds from the first purchase on). Balances follow balance = total_purchased + total_earned
    // - total_used, except for three workspaces that carry the drift of the races the guide describes: a
    // purchase charged twice (3), earnings paid into the balance without total_earned (7), and a charge
    // whose deduction was lost (10). Workspaces 11 and 12 are nearly broke, so that demo purchases also
    // meet insufficient credits.
    private const string SeedWorkspacesAndCreditsSql = """
        INSERT INTO workspaces (id, name)
        SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, name
        FROM unnest(@Names::text[]) WITH ORDINALITY AS t(name, n);

        INSERT INTO workspace_credits (workspace_id, balance, total_purchased, total_earned, total_used)
        SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
               purchased + CASE n WHEN 3 THEN -37.50 WHEN 7 THEN 42.00 WHEN 10 THEN 18.25 ELSE 0 END,
               purchased, 0, 0
        FROM (
            SELECT n, CASE WHEN n >= 11 THEN 20.00 ELSE 2000.00 + n * 250 END AS purchased
            FROM generate_series(1, cardinality(@Names::text[])) AS n
        ) AS amounts;
        """;

    private const string InsertLeadsSql = """
        INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price, marketplace_status)
        SELECT gen_random_uuid(),
               (@Sellers::uuid[])[1 + floor(random() * cardinality(@Sellers::uuid[]))::int],
               true,
               round((5 + random() * 35)::numeric, 2),
               'available'
        FROM generate_series(1, @Count)
        """;

    private const string InsertUnlistedLeadsSql = """
        INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price, marketplace_status)
        SELECT gen_random_uuid(), (@Sellers::uuid[])[1 + (i % cardinality(@Sellers::uuid[]))], false, NULL, 'unlisted'
        FROM generate_series(1, @Count) AS i
        """;
}
