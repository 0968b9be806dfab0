using Npgsql;
using OpsConsole.Testing.RealMarketplace;

namespace OpsConsole.Core.Tests.RealMarketplace;

/// <summary>
/// The files as a DBA runs them with plain psql on the marketplace's schema: scripts/test-race-conditions.sql
/// fails on the shipped fix and passes on ours; the drop-in and its rollback apply with or without the shipped
/// fix underneath, and the rollback leaves the schema as it found it.
/// </summary>
public sealed class RaceScriptAndMigrationTests
{
    private const string RaceScript = "scripts/test-race-conditions.sql";
    private static readonly CancellationToken Ct = new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

    [Fact]
    public async Task Race_script_fails_on_the_shipped_fix()
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.Shipped, Ct);
        var (exitCode, output) = await db.RunPsqlAsync(RaceScript, Ct);
        Assert.NotEqual(0, exitCode);
        Assert.True(output.Contains("FAIL 1", StringComparison.Ordinal), output);
    }

    [Theory]
    [InlineData(MarketplaceFix.DropIn)]
    [InlineData(MarketplaceFix.ShippedThenDropIn)]
    public async Task Race_script_passes_on_the_drop_in(MarketplaceFix fix)
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(fix, Ct);
        var (exitCode, output) = await db.RunPsqlAsync(RaceScript, Ct);
        Assert.True(exitCode == 0, output);
        for (var test = 1; test <= 5; test++)
        {
            Assert.Contains($"PASS {test}:", output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(MarketplaceFix.None)]
    [InlineData(MarketplaceFix.Shipped)]
    public async Task Drop_in_applies_twice_and_its_rollback_restores_the_schema_it_found(MarketplaceFix before)
    {
        await using var db = await RealMarketplaceDatabase.CreateAsync(before, Ct);
        var original = await SchemaAsync(db);
        await db.RunPsqlFileAsync(RealMarketplaceDatabase.DropInFile, Ct);
        await db.RunPsqlFileAsync(RealMarketplaceDatabase.DropInFile, Ct);
        Assert.NotEqual(original, await SchemaAsync(db));
        await db.RunPsqlFileAsync(RealMarketplaceDatabase.RollbackFile, Ct);
        Assert.Equal(original, await SchemaAsync(db));
    }

    private static async Task<List<string>> SchemaAsync(RealMarketplaceDatabase db)
    {
        const string sql = """
            SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || coalesce(numeric_precision::text, '')
                   || ',' || coalesce(numeric_scale::text, '') || ' ' || is_nullable || ' ' || coalesce(column_default, '')
            FROM information_schema.columns WHERE table_schema = 'public'
            UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
            UNION ALL SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) || ' ' || p.prosecdef
                   || ' ' || coalesce(p.proacl::text, '') || ' ' || coalesce(obj_description(p.oid, 'pg_proc'), '')
            FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
            UNION ALL SELECT 'rls ' || relname || ' ' || relrowsecurity FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'
            ORDER BY 1
            """;
        await using var connection = await db.DataSource.OpenConnectionAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<string>();
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }
}
