using OpsConsole.Core;
using OpsConsole.Core.Database;
using OpsConsole.Core.Demo;

namespace OpsConsole.Hosting;

/// <summary>Configuration section <c>Database:Local</c>: the embedded cluster used when no connection string is set.</summary>
public sealed class LocalDatabaseOptions
{
    public const string Section = "Database:Local";

    /// <summary>Relative paths are under the working directory.</summary>
    public string DataDirectory { get; set; } = Path.Combine(".opsconsole", "pgdata");

    /// <summary>0 picks a free loopback port at each start.</summary>
    public int Port { get; set; }

    public bool Durable { get; set; } = true;

    public string? BinDirectory { get; set; }

    public string DatabaseName { get; set; } = "opsconsole";

    /// <summary>The section bound before the host exists (the cluster starts before the container is built).</summary>
    public static LocalDatabaseOptions From(IConfiguration configuration) => configuration.GetSection(Section).Get<LocalDatabaseOptions>() ?? new();
}

/// <summary>Names of the connection strings besides <c>ConnectionStrings:Marketplace</c> (the runtime login).</summary>
public static class ConsoleConnectionStrings
{
    /// <summary>The owner login migrations run as; unset: <c>ConnectionStrings:Marketplace</c>.</summary>
    public const string Migrations = ServiceCollectionExtensions.MigrationsConnectionStringName;

    /// <summary>The login runbook checks run as: a member of <c>opsconsole_probe</c> only. Unset: checks do not run.</summary>
    public const string Probe = Core.Deployments.ProbeDataSource.ConnectionStringName;
}

/// <summary>
/// The database the console runs on: <c>ConnectionStrings:Marketplace</c> when set, otherwise a local
/// PostgreSQL cluster started here (and stopped on dispose) so that <c>dotnet run</c> works on a bare machine.
/// </summary>
public sealed class ConsoleDatabase : IAsyncDisposable
{
    private ConsoleDatabase(string connectionString, string migrationsConnectionString, string? probeConnectionString, LocalPostgresCluster? local)
    {
        ConnectionString = connectionString;
        MigrationsConnectionString = migrationsConnectionString;
        ProbeConnectionString = probeConnectionString;
        Local = local;
    }

    /// <summary>What the console runs as: the runtime login.</summary>
    public string ConnectionString { get; }

    /// <summary>What migrations (and the demo seed) run as: the owner, or for the embedded cluster its superuser acting as the owner.</summary>
    public string MigrationsConnectionString { get; }

    /// <summary>What runbook checks run as, or null when not configured.</summary>
    public string? ProbeConnectionString { get; }

    /// <summary>The embedded cluster, or null when the database is configured.</summary>
    public LocalPostgresCluster? Local { get; }

    public bool IsLocal => Local is not null;

    /// <summary>
    /// Resolves the database, starting the local cluster when none is configured. When the PostgreSQL
    /// binaries are missing it writes the one message that says what to install and returns null.
    /// </summary>
    public static async Task<ConsoleDatabase?> StartOrExplainAsync(IConfiguration configuration, TextWriter error, CancellationToken cancellationToken)
    {
        var configured = configuration.GetConnectionString(ServiceCollectionExtensions.ConnectionStringName);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            var migrations = configuration.GetConnectionString(ConsoleConnectionStrings.Migrations);
            var probe = configuration.GetConnectionString(ConsoleConnectionStrings.Probe);
            return new ConsoleDatabase(
                configured, string.IsNullOrWhiteSpace(migrations) ? configured : migrations, string.IsNullOrWhiteSpace(probe) ? null : probe, null);
        }

        var settings = LocalDatabaseOptions.From(configuration);
        LocalPostgresCluster cluster;
        try
        {
            cluster = await LocalPostgresCluster.StartAsync(new LocalClusterOptions
            {
                DataDirectory = Path.GetFullPath(settings.DataDirectory),
                Port = settings.Port,
                Durable = settings.Durable,
                BinDirectory = string.IsNullOrWhiteSpace(settings.BinDirectory) ? null : settings.BinDirectory,
            }, cancellationToken);
        }
        catch (PostgresBinariesNotFoundException ex)
        {
            await error.WriteLineAsync($"OpsConsole needs PostgreSQL to run without ConnectionStrings:Marketplace. {ex.Message}");
            return null;
        }

        try
        {
            await cluster.CreateDatabaseIfMissingAsync(settings.DatabaseName, cancellationToken);
            await ConsoleRoles.EnsureLocalLoginsAsync(cluster, settings.DatabaseName, cancellationToken);
            await ConsoleRoles.ApplyLockViewRolesAsync(
                cluster.ConnectionString(settings.DatabaseName), DatabaseOptions.From(configuration).GrantLockViewRoles ?? true, cancellationToken);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return new ConsoleDatabase(
            cluster.LoginConnectionString(ConsoleRoles.RuntimeLogin, settings.DatabaseName),
            cluster.ConnectionString(settings.DatabaseName),
            cluster.LoginConnectionString(ConsoleRoles.ProbeLogin, settings.DatabaseName),
            cluster);
    }

    /// <summary>
    /// Points the connection strings (runtime, migrations, checks) at the embedded database for everything registered
    /// after, and turns the demo on there unless <c>Demo:Enabled</c> says otherwise (a configured database gets no demo
    /// unless asked).
    /// </summary>
    public void ApplyTo(IConfigurationManager configuration)
    {
        if (IsLocal)
        {
            configuration[$"ConnectionStrings:{ServiceCollectionExtensions.ConnectionStringName}"] = ConnectionString;
            configuration[$"ConnectionStrings:{ConsoleConnectionStrings.Migrations}"] = MigrationsConnectionString;
            configuration[$"ConnectionStrings:{ConsoleConnectionStrings.Probe}"] = ProbeConnectionString;
            configuration[$"{DemoOptions.Section}:{nameof(DemoOptions.Enabled)}"] ??= "true";
        }
    }

    /// <summary>
    /// Migrates the database as the owner and, for a configured database with <c>Database:GrantLockViewRoles</c>,
    /// grants the lock view's roles (the embedded cluster applies that setting at every start).
    /// </summary>
    public async Task<MigrationResult> MigrateAsync(DatabaseOptions options, CancellationToken cancellationToken)
    {
        var result = await DatabaseMigrator.MigrateAsync(MigrationsConnectionString, cancellationToken);
        if (!IsLocal && options.GrantLockViewRoles == true)
        {
            await ConsoleRoles.ApplyLockViewRolesAsync(MigrationsConnectionString, grant: true, cancellationToken);
        }

        return result;
    }

    public string Describe() => Local is { } local
        ? $"local PostgreSQL in {local.DataDirectory}, port {local.Port}" + (local.StartedHere ? "" : " (already running, attached)")
        : "ConnectionStrings:Marketplace";

    /// <summary>Stops the local cluster if this process started it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Local is not null)
        {
            await Local.DisposeAsync();
        }
    }
}
