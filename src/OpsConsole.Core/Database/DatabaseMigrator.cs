using DbUp;
using Npgsql;

namespace OpsConsole.Core.Database;

/// <summary>What a migration run applied.</summary>
/// <param name="AppliedScripts">Scripts applied by this run, in order (empty when the database was current).</param>
/// <param name="CurrentVersion">The newest script applied to the database, after this run.</param>
public sealed record MigrationResult(IReadOnlyList<string> AppliedScripts, string? CurrentVersion);

/// <summary>A migration script failed; nothing of that script remains (one transaction per script).</summary>
public sealed class MigrationFailedException(string script, Exception inner)
    : Exception($"Migration {script} failed: {inner.Message}", inner)
{
    /// <summary>The script that failed.</summary>
    public string Script { get; } = script;
}

/// <summary>
/// Applies the embedded <c>Database/Migrations/*.sql</c> files in name order with DbUp, one transaction per
/// script, journal in <c>ops.schema_versions</c>. Runs under an advisory lock, so several console instances
/// starting at once migrate one after the other instead of racing.
/// </summary>
public static class DatabaseMigrator
{
    private const string ResourcePrefix = "OpsConsole.Core.Database.Migrations.";
    private const string JournalSchema = "ops";
    private const string JournalTable = "schema_versions";
    private const long AdvisoryLockKey = 0x0_5C0_5013; // "OpsConsole migrations": any fixed number, the same in every instance

    /// <summary>The migration scripts shipped in this assembly, in the order they apply.</summary>
    public static IReadOnlyList<string> ScriptNames { get; } = typeof(DatabaseMigrator).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
        .Select(n => n[ResourcePrefix.Length..])
        .Order(StringComparer.Ordinal)
        .ToArray();

    /// <summary>The text of one shipped migration script, by file name.</summary>
    public static string ReadScript(string name)
    {
        using var stream = typeof(DatabaseMigrator).Assembly.GetManifestResourceStream(ResourcePrefix + name)
            ?? throw new ArgumentException($"No migration script named {name}.", nameof(name));
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Applies every script not yet in the journal.</summary>
    public static async Task<MigrationResult> MigrateAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var lockConnection = new NpgsqlConnection(connectionString);
        await lockConnection.OpenAsync(cancellationToken);
        await ExecuteAsync(lockConnection, $"SELECT pg_advisory_lock({AdvisoryLockKey})", cancellationToken);
        try
        {
            // DbUp creates its journal table but not the schema around it.
            await ExecuteAsync(lockConnection, $"CREATE SCHEMA IF NOT EXISTS {JournalSchema}", cancellationToken);

            // Until 0030 has given the owner role its objects, scripts run as the connecting user (a superuser or a
            // member of every current owner); from then on, every script runs as opsconsole_owner, so that what it
            // creates belongs to the owner role and not to whoever happens to migrate.
            List<string> applied = [];
            if (!await IsAppliedAsync(lockConnection, LeastPrivilegeScript, cancellationToken))
            {
                applied.AddRange(await UpgradeAsync(connectionString, n => string.CompareOrdinal(n, LeastPrivilegeScript) <= 0, cancellationToken));
            }

            applied.AddRange(await UpgradeAsync(AsOwner(connectionString), _ => true, cancellationToken));
            return new MigrationResult(applied, await CurrentVersionAsync(lockConnection, cancellationToken));
        }
        finally
        {
            await ExecuteAsync(lockConnection, $"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
        }
    }

    /// <summary>The migration after which every script runs as <see cref="ConsoleRoles.Owner"/>.</summary>
    public const string LeastPrivilegeScript = "0030_least_privilege.sql";

    /// <summary><paramref name="connectionString"/> acting as <see cref="ConsoleRoles.Owner"/> (its login must be a member).</summary>
    public static string AsOwner(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var option = "-c role=" + ConsoleRoles.Owner;
        builder.Options = string.IsNullOrEmpty(builder.Options) ? option : builder.Options + " " + option;
        return builder.ConnectionString;
    }

    private static async Task<string[]> UpgradeAsync(string connectionString, Func<string, bool> scriptFilter, CancellationToken cancellationToken)
    {
        // DbUp is synchronous; it runs on a pool thread so the caller's thread is not held.
        var result = await Task.Run(() => DeployChanges.To
            .PostgresqlDatabase(connectionString)
            .WithScriptsEmbeddedInAssembly(typeof(DatabaseMigrator).Assembly,
                n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && scriptFilter(Strip(n)))
            .JournalToPostgresqlTable(JournalSchema, JournalTable)
            .WithTransactionPerScript()
            // The scripts use $fn$ dollar quotes, which DbUp would take for variables; they also run under plain psql.
            .WithVariablesDisabled()
            .LogToNowhere()
            .Build()
            .PerformUpgrade(), cancellationToken);

        if (!result.Successful)
        {
            throw new MigrationFailedException(Strip(result.ErrorScript?.Name ?? "(unknown script)"), result.Error);
        }

        return result.Scripts.Select(s => Strip(s.Name)).ToArray();
    }

    private static async Task<bool> IsAppliedAsync(NpgsqlConnection connection, string script, CancellationToken cancellationToken)
    {
        await using var exists = new NpgsqlCommand($"SELECT to_regclass('{JournalSchema}.{JournalTable}') IS NOT NULL", connection);
        if (await exists.ExecuteScalarAsync(cancellationToken) is not true)
        {
            return false;
        }

        await using var command = new NpgsqlCommand($"SELECT EXISTS (SELECT 1 FROM {JournalSchema}.{JournalTable} WHERE scriptname = $1)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = ResourcePrefix + script });
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>The newest migration applied to the database, or null when none is (or the journal is missing).</summary>
    public static async Task<string?> GetCurrentVersionAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await CurrentVersionAsync(connection, cancellationToken);
    }

    private static async Task<string?> CurrentVersionAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const string sql = $"""
            SELECT scriptname FROM {JournalSchema}.{JournalTable} ORDER BY scriptname DESC LIMIT 1
            """;
        await using var exists = new NpgsqlCommand($"SELECT to_regclass('{JournalSchema}.{JournalTable}') IS NOT NULL", connection);
        if (await exists.ExecuteScalarAsync(cancellationToken) is not true)
        {
            return null;
        }

        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync(cancellationToken) is string name ? Strip(name) : null;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Strip(string resourceName) =>
        resourceName.StartsWith(ResourcePrefix, StringComparison.Ordinal) ? resourceName[ResourcePrefix.Length..] : resourceName;
}
