using Dapper;
using OpsConsole.Core.Demo;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Demo;

public sealed class DemoSeederTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task The_demo_seed_fills_an_empty_marketplace_once_with_set_based_inserts()
    {
        var seeder = new DemoSeeder(database.DataSource);
        await using var leadInserts = await StatementCounter.InstallAsync(database.DataSource, "leads", "INSERT");

        var first = await seeder.SeedAsync(3000, CancellationToken.None);
        var second = await seeder.SeedAsync(3000, CancellationToken.None);

        Assert.True(first);
        Assert.False(second);
        // Set-based: thousands of leads in a handful of statements, where a row-by-row seed would take one per lead
        // (counted by a statement trigger, not timed: a wall clock measures the machine's load as much as the seed).
        var (statements, rows) = await leadInserts.ReadAsync();
        await using (var counting = await database.DataSource.OpenConnectionAsync())
        {
            Assert.Equal(await counting.ExecuteScalarAsync<long>("SELECT count(*) FROM leads"), rows);
        }

        Assert.True(rows > 3000, $"{rows} leads seeded");
        Assert.InRange(statements, 1, 5);

        await using var connection = await database.DataSource.OpenConnectionAsync();
        Assert.Equal(DemoSeeder.WorkspaceNames.Count, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM workspaces"));
        Assert.Equal(3000, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM leads WHERE is_marketplace_listed AND marketplace_status = 'available' AND marketplace_price > 0"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM workspace_credits WHERE balance < 0"));

        // The drift the credit editor will find: three workspaces whose balance breaks the formula.
        var drifted = (await connection.QueryAsync<Guid>(
            "SELECT workspace_id FROM workspace_credits WHERE balance <> total_purchased + total_earned - total_used ORDER BY 1")).ToList();
        Assert.Equal([DemoSeeder.WorkspaceId(3), DemoSeeder.WorkspaceId(7), DemoSeeder.WorkspaceId(10)], drifted);
    }
}
