using Npgsql;
using OpsConsole.Core.Database;
using OpsConsole.Testing;

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
}
