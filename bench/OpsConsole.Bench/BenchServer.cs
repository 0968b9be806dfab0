using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpsConsole.Core.Database;
using OpsConsole.Testing;

namespace OpsConsole.Bench;

/// <summary>A throwaway cluster started like the tests' one, but durable (fsync and synchronous commit on), as in production.</summary>
internal sealed class BenchServer : IAsyncDisposable
{
    private BenchServer(LocalPostgresCluster cluster, string folder, string version)
    {
        Cluster = cluster;
        Folder = folder;
        Description = $"PostgreSQL {version}, fsync on, {Environment.ProcessorCount} cores";
    }

    public LocalPostgresCluster Cluster { get; }

    public string Folder { get; }

    public string Description { get; }

    public static async Task<BenchServer> StartAsync(CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Path.GetTempPath(), "opsconsole-bench-" + Guid.NewGuid().ToString("N"));
        var cluster = await LocalPostgresCluster.StartAsync(new LocalClusterOptions
        {
            DataDirectory = folder,
            Durable = true,
            ServerSettings = new Dictionary<string, string> { ["shared_buffers"] = "512MB" },
        }, cancellationToken);
        await using var connection = new NpgsqlConnection(cluster.ConnectionString());
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SHOW server_version", connection);
        var version = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
        return new BenchServer(cluster, folder, version);
    }

    /// <summary>Creates and migrates a database; returns its connection string.</summary>
    public async Task<string> CreateMarketplaceAsync(string name, CancellationToken cancellationToken)
    {
        await Cluster.CreateDatabaseIfMissingAsync(name, cancellationToken);
        var connectionString = Cluster.ConnectionString(name);
        await DatabaseMigrator.MigrateAsync(connectionString, cancellationToken);
        return connectionString;
    }

    /// <summary>The core services as the console registers them, over <paramref name="connectionString"/>, logging warnings only.</summary>
    public static ServiceProvider Services(string connectionString, IDictionary<string, string?>? settings = null) =>
        TestServices.Build(connectionString, settings, minimumLevel: LogLevel.Warning);

    public async ValueTask DisposeAsync()
    {
        await Cluster.KillAsync();
        Directory.Delete(Folder, recursive: true);
    }
}
