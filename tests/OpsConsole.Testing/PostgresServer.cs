using System.Diagnostics;
using Npgsql;
using OpsConsole.Core.Database;

namespace OpsConsole.Testing;

/// <summary>
/// One throwaway PostgreSQL cluster for the whole test run: started on first use on a free loopback port,
/// migrated once into a template database, and removed when the test process ends, however it ends.
/// Each test class gets its own database copied from the template, so classes stay independent and run in
/// parallel. Clusters left behind by a killed run are cleaned up by the next run.
/// The cluster has the console's roles and logins as the embedded one does (<see cref="ConsoleRoles"/>): databases
/// belong to <c>opsconsole_owner</c>, and <see cref="RuntimeConnectionString"/> connects as the console's runtime
/// login, so tests exercise the runtime role's grants.
/// </summary>
public sealed class PostgresServer
{
    private const string TemplateDatabase = "opsconsole_template";
    private const string FolderPrefix = "opsconsole-test-";
    private static readonly Lazy<Task<PostgresServer>> Shared = new(StartAsync);
    private readonly SemaphoreSlim _createGate = new(1, 1);

    private PostgresServer(LocalPostgresCluster cluster) => Cluster = cluster;

    /// <summary>The running cluster.</summary>
    public LocalPostgresCluster Cluster { get; }

    /// <summary>The shared server, started on first call.</summary>
    public static Task<PostgresServer> InstanceAsync() => Shared.Value;

    /// <summary>The runtime login's (the console's) connection string for the database of <paramref name="connectionString"/>.</summary>
    public string RuntimeConnectionString(string connectionString) => LoginConnectionString(ConsoleRoles.RuntimeLogin, connectionString);

    /// <summary>The probe login's (runbook checks') connection string for the database of <paramref name="connectionString"/>.</summary>
    public string ProbeConnectionString(string connectionString) => LoginConnectionString(ConsoleRoles.ProbeLogin, connectionString);

    /// <summary>The owner login's connection string for the database of <paramref name="connectionString"/>.</summary>
    public string OwnerConnectionString(string connectionString) => LoginConnectionString(ConsoleRoles.OwnerLogin, connectionString);

    /// <summary>
    /// The probe login's connection string for a database of the shared server (null when the server has not been
    /// started by this test run): what the test helpers hand to the probe runner next to the runtime connection string.
    /// </summary>
    public static string? ProbeConnectionStringFor(string connectionString) =>
        Shared.IsValueCreated && Shared.Value.IsCompletedSuccessfully ? Shared.Value.Result.ProbeConnectionString(connectionString) : null;

    private string LoginConnectionString(string login, string connectionString) =>
        Cluster.LoginConnectionString(login, new NpgsqlConnectionStringBuilder(connectionString).Database!);

    /// <summary>
    /// Environment variable naming a SQL file applied to every database <see cref="CreateDatabaseAsync"/> makes, after
    /// the migrations: a deliberately broken function (see <c>tests/OpsConsole.Core.Tests/Contract/Breakages/</c>),
    /// to see which tests catch the breakage. Unset in every normal run.
    /// </summary>
    public const string BreakageVariable = "OPSCONSOLE_TEST_BREAKAGE";

    /// <summary>Creates a fresh, fully migrated database and returns its connection string (superuser).</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken = default)
    {
        var name = "t_" + Guid.NewGuid().ToString("N");
        // CREATE DATABASE ... TEMPLATE fails while another session touches the template: one copy at a time.
        await _createGate.WaitAsync(cancellationToken);
        try
        {
            await ExecuteAsync(Cluster.ConnectionString(), $"CREATE DATABASE {name} TEMPLATE {TemplateDatabase} OWNER {ConsoleRoles.Owner}", cancellationToken);
        }
        finally
        {
            _createGate.Release();
        }

        if (Environment.GetEnvironmentVariable(BreakageVariable) is { Length: > 0 } breakage)
        {
            await ExecuteAsync(Cluster.ConnectionString(name), await File.ReadAllTextAsync(breakage, cancellationToken), cancellationToken);
        }

        return Cluster.ConnectionString(name);
    }

    /// <summary>Creates an empty database (no migrations) and returns its connection string (superuser).</summary>
    public async Task<string> CreateEmptyDatabaseAsync(CancellationToken cancellationToken = default)
    {
        var name = "e_" + Guid.NewGuid().ToString("N");
        await ExecuteAsync(Cluster.ConnectionString(), $"CREATE DATABASE {name} TEMPLATE template0", cancellationToken);
        return Cluster.ConnectionString(name);
    }

    /// <summary>Drops a database made by this server, closing its sessions first.</summary>
    public async Task DropDatabaseAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await ExecuteAsync(Cluster.ConnectionString(), $"DROP DATABASE IF EXISTS {name} WITH (FORCE)", cancellationToken);
    }

    /// <summary>
    /// A cluster of a test's own (one it may kill and restart on <paramref name="port"/>), in a folder that the same
    /// reaper and leftover sweep cover as the shared server's: it goes when the test run ends, however it ends. The
    /// test destroys it (and deletes the folder) when done.
    /// </summary>
    public static async Task<(LocalPostgresCluster Cluster, string Folder)> StartPrivateClusterAsync(int port, CancellationToken cancellationToken)
    {
        RemoveLeftovers();
        var folder = await OwnedFolderAsync(cancellationToken);
        var cluster = await LocalPostgresCluster.StartAsync(
            new LocalClusterOptions { DataDirectory = Path.Combine(folder, "pgdata"), Durable = false, Port = port },
            cancellationToken);
        StartReaper(cluster, folder);
        return (cluster, folder);
    }

    private static async Task<string> OwnedFolderAsync(CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"{FolderPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(
            Path.Combine(folder, "owner.pid"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        return folder;
    }

    private static async Task<PostgresServer> StartAsync()
    {
        RemoveLeftovers();
        var folder = await OwnedFolderAsync(CancellationToken.None);
        var cluster = await LocalPostgresCluster.StartAsync(
            new LocalClusterOptions { DataDirectory = Path.Combine(folder, "pgdata"), Durable = false },
            CancellationToken.None);
        StartReaper(cluster, folder);

        await ExecuteAsync(cluster.ConnectionString(), $"CREATE DATABASE {TemplateDatabase}", CancellationToken.None);
        await ConsoleRoles.EnsureLocalLoginsAsync(cluster, TemplateDatabase, CancellationToken.None);
        var template = new NpgsqlConnectionStringBuilder(cluster.ConnectionString(TemplateDatabase)) { Pooling = false }.ConnectionString;
        await DatabaseMigrator.MigrateAsync(template, CancellationToken.None);
        return new PostgresServer(cluster);
    }

    // The test host is ended soon after its last test, often before a ProcessExit handler could stop a server,
    // so a detached watcher does it: it waits for this process to end (however it ends), then stops the
    // cluster and deletes its folder.
    private static void StartReaper(LocalPostgresCluster cluster, string folder)
    {
        var script = $"""
            exec >/dev/null 2>&1 </dev/null
            tail --pid={Environment.ProcessId} -f /dev/null
            {StopCommand(cluster.BinDirectory, cluster.DataDirectory)}
            rm -rf '{folder}'
            """;
        using var reaper = Process.Start(new ProcessStartInfo { FileName = "setsid", ArgumentList = { "bash", "-c", script }, UseShellExecute = false })
            ?? throw new InvalidOperationException("Could not start the cluster reaper.");
    }

    private static string StopCommand(string bin, string dataDirectory)
    {
        var pgCtl = $"'{Path.Combine(bin, "pg_ctl")}' -D '{dataDirectory}' -m immediate -w stop";
        return LocalPostgresCluster.CallerIsRoot ? "runuser -u postgres -- " + pgCtl : pgCtl;
    }

    // A run killed before its ProcessExit handler ran leaves a cluster running: stop it and delete its folder.
    private static void RemoveLeftovers()
    {
        foreach (var folder in Directory.GetDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            try
            {
                var ownerFile = Path.Combine(folder, "owner.pid");
                if (!File.Exists(ownerFile) || !int.TryParse(File.ReadAllText(ownerFile), out var owner) || IsAlive(owner))
                {
                    continue;
                }

                var pgdata = Path.Combine(folder, "pgdata");
                var bin = LocalPostgresCluster.FindBinDirectory();
                if (bin is not null && File.Exists(Path.Combine(pgdata, "postmaster.pid")))
                {
                    using var stop = Process.Start(new ProcessStartInfo { FileName = "bash", ArgumentList = { "-c", StopCommand(bin, pgdata) }, RedirectStandardOutput = true });
                    stop?.WaitForExit(30_000);
                }

                Directory.Delete(folder, recursive: true);
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                // The dead run's own reaper may be deleting the same folder right now: leave it to it.
            }
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
