using Dapper;
using Npgsql;
using OpsConsole.Core.Database;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// The migration files as a DBA runs them (plain psql, name order, ON_ERROR_STOP), and the manual rollback.
/// Each test makes a database of its own and drops it.
/// </summary>
public sealed class MigrationScriptTests : IDisposable
{
    private static readonly string[] GuideFunctions =
        ["validate_and_lock_leads_for_purchase", "complete_credit_lead_purchase", "complete_stripe_lead_purchase", "mark_leads_sold_bulk"];

    private readonly CancellationTokenSource _deadline = new(TimeSpan.FromMinutes(2));

    private CancellationToken Ct => _deadline.Token;

    [Fact]
    public async Task Migration_files_apply_twice_with_psql_on_an_empty_database_and_the_second_run_changes_nothing()
    {
        var server = await PostgresServer.InstanceAsync();
        var connectionString = await server.CreateEmptyDatabaseAsync(Ct);
        try
        {
            var files = Directory.GetFiles(RepositoryPath("src/OpsConsole.Core/Database/Migrations"), "*.sql")
                .Order(StringComparer.Ordinal)
                .ToArray();
            Assert.Equal(DatabaseMigrator.ScriptNames, files.Select(Path.GetFileName));

            await RunPsqlAsync(server, connectionString, files);
            var once = await SchemaAsync(connectionString);
            await RunPsqlAsync(server, connectionString, files);
            var twice = await SchemaAsync(connectionString);

            Assert.Equal(once, twice);
            // The contract's five functions and the balance guard's trigger function, nothing else.
            string[] expected = [.. GuideFunctions, "release_expired_lead_reservations", "workspace_credits_refuse_negative_balance"];
            Assert.Equal(
                expected.Order(StringComparer.Ordinal),
                once.Where(o => o.StartsWith("function ", StringComparison.Ordinal)).Select(o => o.Split(' ', '(')[1]).Order(StringComparer.Ordinal));
            Assert.Contains("schema ops", once);
        }
        finally
        {
            await server.DropDatabaseAsync(connectionString, Ct);
        }
    }

    [Fact]
    public async Task Rollback_script_drops_exactly_the_four_functions_of_the_guide()
    {
        var server = await PostgresServer.InstanceAsync();
        var connectionString = await server.CreateDatabaseAsync(Ct);
        try
        {
            var before = await SchemaAsync(connectionString);

            await RunPsqlAsync(server, connectionString, [RepositoryPath("src/OpsConsole.Core/Database/Rollback/rollback_fix_payment_race_conditions.sql")]);

            var after = await SchemaAsync(connectionString);
            Assert.Equal(
                GuideFunctions.Order(StringComparer.Ordinal),
                before.Except(after).Select(o => o.Split(' ', '(')[1]).Order(StringComparer.Ordinal));
            Assert.Empty(after.Except(before));
            Assert.Contains(after, o => o.StartsWith("function release_expired_lead_reservations(", StringComparison.Ordinal));
            await using var connection = new NpgsqlConnection(connectionString);
            var remaining = await connection.QueryAsync<string>(new CommandDefinition("""
                SELECT routine_name FROM information_schema.routines
                WHERE routine_schema = 'public' AND routine_name = ANY (@Names)
                """, new { Names = GuideFunctions }, cancellationToken: Ct));
            Assert.Empty(remaining);
        }
        finally
        {
            await server.DropDatabaseAsync(connectionString, Ct);
        }
    }

    // psql from the cluster's own bin folder (found on PATH or under /usr/lib/postgresql/*/bin).
    private async Task RunPsqlAsync(PostgresServer server, string connectionString, IReadOnlyList<string> files)
    {
        var target = new NpgsqlConnectionStringBuilder(connectionString);
        var conninfo = $"host={target.Host} port={target.Port} user={target.Username} dbname={target.Database}";
        foreach (var file in files)
        {
            var (exitCode, output) = await server.Cluster.RunToolAsync(
                "psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", file], Ct);
            Assert.True(exitCode == 0, $"psql -f {Path.GetFileName(file)} exited with {exitCode}:\n{output}");
            Assert.DoesNotContain("ERROR", output, StringComparison.Ordinal);
        }
    }

    /// <summary>Every object the scripts make, with its definition, one line each (duplicates show up twice).</summary>
    private async Task<List<string>> SchemaAsync(string connectionString)
    {
        const string sql = """
            SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname IN ('public', 'ops')
            UNION ALL
            SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || data_type
                   || ' null=' || is_nullable || ' default=' || coalesce(column_default, '')
            FROM information_schema.columns WHERE table_schema IN ('public', 'ops')
            UNION ALL
            SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ' ' || pg_get_constraintdef(oid)
            FROM pg_constraint WHERE connamespace = 'public'::regnamespace
            UNION ALL
            SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname IN ('public', 'ops')
            UNION ALL
            SELECT 'function ' || p.oid::regprocedure::text || ' definer=' || p.prosecdef
                   || ' config=' || coalesce(array_to_string(p.proconfig, ';'), '') || ' acl=' || coalesce(p.proacl::text, '')
            FROM pg_proc AS p WHERE p.pronamespace = 'public'::regnamespace
            UNION ALL
            SELECT 'role ' || rolname || ' login=' || rolcanlogin FROM pg_roles WHERE rolname = 'service_role'
            ORDER BY 1
            """;
        await using var connection = new NpgsqlConnection(connectionString);
        return (await connection.QueryAsync<string>(new CommandDefinition(sql, cancellationToken: Ct))).AsList();
    }

    private static string RepositoryPath(string relative)
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "OpsConsole.sln")))
            {
                return Path.Combine(folder.FullName, relative);
            }
        }

        throw new InvalidOperationException($"No OpsConsole.sln above {AppContext.BaseDirectory}.");
    }

    public void Dispose()
    {
        _deadline.Dispose();
        GC.SuppressFinalize(this);
    }
}
