using Dapper;
using Npgsql;

namespace OpsConsole.Core.Demo;

/// <summary>A lead the demo traffic may try to buy, with its seller.</summary>
public sealed record DemoLead(Guid Id, Guid SellerId);

/// <summary>A demo buyer and its balance when last read.</summary>
public sealed record DemoBuyer(Guid Id, decimal Balance);

/// <summary>What the demo traffic reads to choose its purchases: buyers and a window of available leads.</summary>
public sealed class DemoMarket(NpgsqlDataSource dataSource)
{
    /// <summary>Every demo workspace that has a credit account, so can buy: the demo never buys for anyone else.</summary>
    public async Task<IReadOnlyList<Guid>> GetBuyersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var buyers = await connection.QueryAsync<Guid>(new CommandDefinition(
            BuyersSql, new { Demo = DemoSeeder.DemoWorkspaceIds(), Drifted = DemoSeeder.DriftedWorkspaces.ToArray() }, cancellationToken: cancellationToken));
        return buyers.AsList();
    }

    /// <summary>The demo buyers of <see cref="GetBuyersAsync"/> with their balances, richest first.</summary>
    public async Task<IReadOnlyList<DemoBuyer>> GetBuyerBalancesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var buyers = await connection.QueryAsync<DemoBuyer>(new CommandDefinition(
            BuyerBalancesSql, new { Demo = DemoSeeder.DemoWorkspaceIds(), Drifted = DemoSeeder.DriftedWorkspaces.ToArray() }, cancellationToken: cancellationToken));
        return buyers.AsList();
    }

    /// <summary>
    /// The first <paramref name="window"/> available leads of demo sellers in id order (random ids, so a random sample that
    /// every buyer sees alike), and how many are available in all.
    /// </summary>
    public async Task<(IReadOnlyList<DemoLead> Leads, int Available)> GetHotLeadsAsync(int window, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var leads = (await connection.QueryAsync<DemoLead>(new CommandDefinition(
            HotLeadsSql, new { Window = window, Demo = DemoSeeder.DemoWorkspaceIds() }, cancellationToken: cancellationToken))).AsList();
        var available = await connection.ExecuteScalarAsync<int>(new CommandDefinition(AvailableSql, new { Demo = DemoSeeder.DemoWorkspaceIds() }, cancellationToken: cancellationToken));
        return (leads, available);
    }

    // Only the demo's own workspaces buy, and not the drifted ones (see DemoSeeder.DriftedWorkspaces).
    private const string BuyersSql =
        "SELECT workspace_id FROM workspace_credits WHERE workspace_id = ANY (@Demo) AND workspace_id <> ALL (@Drifted) ORDER BY workspace_id";

    private const string BuyerBalancesSql = """
        SELECT workspace_id AS Id, balance AS Balance
        FROM workspace_credits
        WHERE workspace_id = ANY (@Demo) AND workspace_id <> ALL (@Drifted)
        ORDER BY balance DESC, workspace_id
        """;

    private const string HotLeadsSql = """
        SELECT id, workspace_id AS SellerId
        FROM leads
        WHERE is_marketplace_listed AND marketplace_status = 'available' AND workspace_id = ANY (@Demo)
        ORDER BY id
        LIMIT @Window
        """;

    private const string AvailableSql = """
        SELECT count(*)::int FROM leads WHERE is_marketplace_listed AND marketplace_status = 'available' AND workspace_id = ANY (@Demo)
        """;
}
