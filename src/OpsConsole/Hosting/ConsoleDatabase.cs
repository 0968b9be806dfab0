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
}

/// <summary>
/// The database the console runs on: <c>ConnectionStrings:Marketplace</c> when set, otherwise a local
/// PostgreSQL cluster started here (and stopped on dispose) so that <c>dotnet run</c> works on a bare machine.
/// </summary>
public sealed class ConsoleDatabase : IAsyncDisposable
{
    private ConsoleDatabase(string connectionString, LocalPostgresCluster? local)
    {
        ConnectionString = connectionString;
        Local = local;
    }

    public string ConnectionString { get; }

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
            return new ConsoleDatabase(configured, null);
        }

        var settings = configuration.GetSection(LocalDatabaseOptions.Section).Get<LocalDatabaseOptions>() ?? new();
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
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return new ConsoleDatabase(cluster.ConnectionString(settings.DatabaseName), cluster);
    }

    /// <summary>
    /// Points <c>ConnectionStrings:Marketplace</c> at the embedded database for everything registered after, and
    /// turns the demo on there unless <c>Demo:Enabled</c> says otherwise (a configured database gets no demo unless asked).
    /// </summary>
    public void ApplyTo(IConfigurationManager configuration)
    {
        if (IsLocal)
        {
            configuration[$"ConnectionStrings:{ServiceCollectionExtensions.ConnectionStringName}"] = ConnectionString;
            configuration[$"{DemoOptions.Section}:{nameof(DemoOptions.Enabled)}"] ??= "true";
        }
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
