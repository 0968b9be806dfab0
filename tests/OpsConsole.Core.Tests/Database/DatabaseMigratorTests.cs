using Npgsql;
using OpsConsole.Core.Database;
using OpsConsole.Testing;
using OpsConsole.Testing.RealMarketplace;

namespace OpsConsole.Core.Tests.Database;

public sealed class DatabaseMigratorTests
{
    [Fact]
    public async Task Migrating_an_empty_database_applies_every_script_in_name_order_and_a_second_run_applies_none()
    {
        var server = await PostgresServer.InstanceAsync();
        var connectionString = await server.CreateEmptyDatabaseAsync();

        var first = await DatabaseMigrator.MigrateAsync(connectionString, CancellationToken.None);
        var second = await DatabaseMigrator.MigrateAsync(connectionString, CancellationToken.None);

        Assert.Equal(DatabaseMigrator.ScriptNames, first.AppliedScripts);
        Assert.Empty(second.AppliedScripts);
        Assert.Equal(DatabaseMigrator.ScriptNames.LastOrDefault(), second.CurrentVersion);
        await server.DropDatabaseAsync(connectionString);
    }

    [Fact]
    public async Task The_journal_lives_in_the_ops_schema()
    {
        var server = await PostgresServer.InstanceAsync();
        var connectionString = await server.CreateDatabaseAsync();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);

        await using var command = dataSource.CreateCommand("SELECT to_regclass('ops.schema_versions') IS NOT NULL");
        Assert.Equal(true, await command.ExecuteScalarAsync());
        Assert.Equal(DatabaseMigrator.ScriptNames.LastOrDefault(), await DatabaseMigrator.GetCurrentVersionAsync(dataSource, CancellationToken.None));
        await server.DropDatabaseAsync(connectionString);
    }

    [Fact]
    public async Task Concurrent_migrations_of_one_database_apply_each_script_once()
    {
        var server = await PostgresServer.InstanceAsync();
        var connectionString = await server.CreateEmptyDatabaseAsync();

        var runs = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => DatabaseMigrator.MigrateAsync(connectionString, CancellationToken.None)));

        Assert.Equal(DatabaseMigrator.ScriptNames, runs.SelectMany(r => r.AppliedScripts).Order(StringComparer.Ordinal));
        await server.DropDatabaseAsync(connectionString);
    }

    [Theory]
    [InlineData(MarketplaceFix.None)]
    [InlineData(MarketplaceFix.Shipped)]
    public async Task A_real_marketplace_database_gets_the_drop_in_and_the_console_without_its_tables_being_rebuilt(MarketplaceFix fix)
    {
        await using var marketplace = await RealMarketplaceDatabase.CreateAsync(fix, CancellationToken.None);
        await using (var seed = marketplace.DataSource.CreateCommand("""
            INSERT INTO workspaces (name, slug) VALUES ('Before the console', 'before-the-console')
            """))
        {
            await seed.ExecuteNonQueryAsync();
        }

        var result = await DatabaseMigrator.MigrateAsync(marketplace.ConnectionString, CancellationToken.None);

        // 0001 is journalled, not run: its CREATE TABLEs would fail on the marketplace's tables.
        Assert.DoesNotContain(DatabaseMigrator.MarketplaceSchemaScript, result.AppliedScripts);
        Assert.Equal(DatabaseMigrator.ScriptNames.Where(n => n != DatabaseMigrator.MarketplaceSchemaScript), result.AppliedScripts);
        await using var check = marketplace.DataSource.CreateCommand("""
            SELECT (SELECT count(*) FROM workspaces WHERE slug = 'before-the-console'),
                   (SELECT count(*) FROM ops.schema_versions WHERE scriptname LIKE '%0001_marketplace_schema.sql'),
                   to_regprocedure('public.complete_credit_lead_purchase(uuid, uuid, numeric)') IS NOT NULL,
                   (SELECT bool_and(relrowsecurity) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'
                      AND relname IN ('workspaces', 'users', 'partners', 'leads', 'workspace_credits', 'marketplace_purchases',
                                      'marketplace_purchase_items', 'audit_logs'))
            """);
        await using var reader = await check.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(1L, reader.GetInt64(0));
        Assert.Equal(1L, reader.GetInt64(1));
        Assert.True(reader.GetBoolean(2));
        Assert.True(reader.GetBoolean(3));
        Assert.Empty((await DatabaseMigrator.MigrateAsync(marketplace.ConnectionString, CancellationToken.None)).AppliedScripts);
    }

    [Fact]
    public async Task A_database_migrated_by_a_pre_release_console_is_refused_with_a_clear_message_and_left_unchanged()
    {
        var server = await PostgresServer.InstanceAsync();
        var connectionString = await server.CreateEmptyDatabaseAsync();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var journal = dataSource.CreateCommand("""
            CREATE SCHEMA ops;
            CREATE TABLE ops.schema_versions (schemaversionsid serial PRIMARY KEY, scriptname varchar(255) NOT NULL, applied timestamp NOT NULL);
            INSERT INTO ops.schema_versions (scriptname, applied)
            VALUES ('OpsConsole.Core.Database.Migrations.0001_marketplace_tables.sql', now()),
                   ('OpsConsole.Core.Database.Migrations.0002_fix_payment_race_conditions.sql', now());
            """))
        {
            await journal.ExecuteNonQueryAsync();
        }

        var error = await Assert.ThrowsAsync<PreReleaseDatabaseException>(() => DatabaseMigrator.MigrateAsync(connectionString, CancellationToken.None));

        Assert.Contains("migrated by a pre-release console", error.Message, StringComparison.Ordinal);
        Assert.Contains("rebuild it", error.Message, StringComparison.Ordinal);
        Assert.Equal(["0001_marketplace_tables.sql", "0002_fix_payment_race_conditions.sql"], error.Scripts);
        await using var count = dataSource.CreateCommand("SELECT (SELECT count(*) FROM ops.schema_versions), to_regclass('public.leads') IS NULL");
        await using var reader = await count.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(2L, reader.GetInt64(0));
        Assert.True(reader.GetBoolean(1));
        await reader.DisposeAsync();
        await server.DropDatabaseAsync(connectionString);
    }

    [Fact]
    public async Task The_drop_in_is_embedded_from_the_supabase_file_itself()
    {
        var embedded = DatabaseMigrator.ReadScript("0002_fix_payment_race_conditions_20260206000001.sql");
        var file = await File.ReadAllTextAsync(RealMarketplaceDatabase.RepositoryPath(RealMarketplaceDatabase.DropInFile));
        Assert.Equal(file, embedded);
    }
}
