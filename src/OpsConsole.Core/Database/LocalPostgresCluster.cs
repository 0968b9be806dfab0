using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Npgsql;

namespace OpsConsole.Core.Database;

/// <summary>Where and how to run a local PostgreSQL cluster.</summary>
public sealed class LocalClusterOptions
{
    /// <summary>The cluster's data folder; created (initdb) when it holds no cluster yet, reused otherwise.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The loopback port to listen on; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>
    /// True (the default) keeps PostgreSQL's crash safety (fsync, synchronous commit), as in production.
    /// Throwaway test clusters turn it off for speed.
    /// </summary>
    public bool Durable { get; init; } = true;

    /// <summary>A folder holding initdb, pg_ctl and postgres; found on PATH or under /usr/lib/postgresql when unset.</summary>
    public string? BinDirectory { get; init; }

    /// <summary>Extra server settings passed as <c>-c name=value</c>.</summary>
    public IReadOnlyDictionary<string, string> ServerSettings { get; init; } = new Dictionary<string, string>();
}

/// <summary>The PostgreSQL server binaries could not be found on this machine.</summary>
public sealed class PostgresBinariesNotFoundException(string message) : Exception(message);

/// <summary>
/// A PostgreSQL cluster on loopback, started from the server binaries on this machine: the console's
/// one-command local run, the tests and the benchmarks all start their database through this class.
/// Password (SCRAM) authentication on 127.0.0.1 only, no Unix socket and no trust: the passwords of the
/// superuser and of the console's logins are random and kept in <see cref="CredentialsFile"/> (pgpass format,
/// mode 0600) inside the data folder, so no other local user can connect. A folder made by an earlier version
/// (trust authentication) is secured in place on its next start. Runs the server as the <c>postgres</c> OS user
/// when the caller is root, because initdb and postgres refuse to run as root.
/// </summary>
public sealed class LocalPostgresCluster : IAsyncDisposable
{
    /// <summary>The superuser the cluster is initialised with.</summary>
    public const string Superuser = "postgres";

    private const string InstallHint =
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or under /usr/lib/postgresql/*/bin. " +
        "Install them with: apt-get install -y postgresql (Debian/Ubuntu), or set Database:Local:BinDirectory.";

    /// <summary>Name of the credentials file inside the data folder.</summary>
    public const string CredentialsFileName = "opsconsole.pgpass";

    private readonly string _binDirectory;
    private readonly bool _runAsPostgres;
    private readonly string? _serverOptions;
    private readonly LocalClusterCredentials _credentials;
    private int _stopped;

    private LocalPostgresCluster(string dataDirectory, int port, string binDirectory, bool runAsPostgres, string? serverOptions, LocalClusterCredentials credentials)
    {
        DataDirectory = dataDirectory;
        Port = port;
        _binDirectory = binDirectory;
        _runAsPostgres = runAsPostgres;
        _serverOptions = serverOptions;
        _credentials = credentials;
    }

    /// <summary>False when the cluster was already running and this instance only attached to it.</summary>
    public bool StartedHere => _serverOptions is not null;

    /// <summary>The cluster's data folder.</summary>
    public string DataDirectory { get; }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>The server's log file.</summary>
    public string LogFile => Path.Combine(DataDirectory, "server.log");

    /// <summary>The folder holding the server binaries in use (pg_ctl, psql, pgbench, ...).</summary>
    public string BinDirectory => _binDirectory;

    /// <summary>The file holding the cluster's passwords (pgpass format, readable by the OS user who made it only).</summary>
    public string CredentialsFile => Path.Combine(DataDirectory, CredentialsFileName);

    /// <summary>A connection string for <paramref name="database"/> as the superuser.</summary>
    public string ConnectionString(string database = "postgres") => LoginConnectionString(Superuser, database);

    /// <summary>A connection string for <paramref name="database"/> as <paramref name="login"/>, with its password.</summary>
    public string LoginConnectionString(string login, string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = login,
        Password = PasswordOf(login),
        Database = database,
    }.ConnectionString;

    /// <summary>The password of <paramref name="login"/> from the credentials file; one is made (and kept) when it has none yet.</summary>
    public string PasswordOf(string login) => _credentials.PasswordOf(login);

    /// <summary>
    /// Starts the cluster in <see cref="LocalClusterOptions.DataDirectory"/>, creating it first when the folder
    /// holds none. A server already running on that folder is reused as it is.
    /// </summary>
    public static async Task<LocalPostgresCluster> StartAsync(LocalClusterOptions options, CancellationToken cancellationToken)
    {
        var bin = options.BinDirectory ?? FindBinDirectory() ?? throw new PostgresBinariesNotFoundException(InstallHint);
        foreach (var tool in new[] { "initdb", "pg_ctl", "postgres" })
        {
            if (!File.Exists(Path.Combine(bin, tool)))
            {
                throw new PostgresBinariesNotFoundException($"{tool} is missing from {bin}. {InstallHint}");
            }
        }

        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        var runAsPostgres = CallerIsRoot;
        Directory.CreateDirectory(dataDirectory);
        var credentials = LocalClusterCredentials.Open(Path.Combine(dataDirectory, CredentialsFileName));

        if (!File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
        {
            await InitDbAsync(bin, dataDirectory, runAsPostgres, options.Durable, credentials, cancellationToken);
        }

        var runningPort = ReadRunningPort(dataDirectory);
        var running = runningPort is int p && await AnswersAsync(p, credentials, cancellationToken);
        if (!IsSecured(dataDirectory))
        {
            // A folder of an earlier version: trust authentication. Give the superuser a password (in single-user
            // mode when the server is down, so trust is never served again) and switch pg_hba.conf to SCRAM.
            await SecureAsync(bin, dataDirectory, runAsPostgres, running ? runningPort : null, credentials, cancellationToken);
        }

        if (running)
        {
            return new LocalPostgresCluster(dataDirectory, runningPort!.Value, bin, runAsPostgres, serverOptions: null, credentials);
        }

        var port = options.Port != 0 ? options.Port : FreeLoopbackPort();
        var settings = new Dictionary<string, string>
        {
            ["listen_addresses"] = "127.0.0.1",
            ["unix_socket_directories"] = "''",
            ["max_connections"] = "300",
        };
        if (!options.Durable)
        {
            settings["fsync"] = "off";
            settings["synchronous_commit"] = "off";
            settings["full_page_writes"] = "off";
        }

        foreach (var (name, value) in options.ServerSettings)
        {
            settings[name] = value;
        }

        var serverOptions = $"-p {port} " + string.Join(' ', settings.Select(s => $"-c {s.Key}={s.Value}"));
        var cluster = new LocalPostgresCluster(dataDirectory, port, bin, runAsPostgres, serverOptions, credentials);
        var result = await RunAsync(bin, "pg_ctl", ["-D", dataDirectory, "-l", cluster.LogFile, "-w", "-t", "60", "-o", serverOptions, "start"],
            runAsPostgres, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"PostgreSQL did not start in {dataDirectory} on port {port}: {result.Output}\n{TailOfLog(cluster.LogFile)}");
        }

        return cluster;
    }

    /// <summary>Creates <paramref name="name"/> when it does not exist yet.</summary>
    public async Task CreateDatabaseIfMissingAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync(cancellationToken);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", name);
        if (await exists.ExecuteScalarAsync(cancellationToken) is not null)
        {
            return;
        }

        await using var create = new NpgsqlCommand($"CREATE DATABASE {QuoteIdentifier(name)}", connection);
        await create.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Stops the server (fast shutdown) if this instance started it.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!StartedHere || Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        await RunAsync(_binDirectory, "pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "stop"], _runAsPostgres, cancellationToken);
    }

    /// <summary>Stops the server at once, without waiting for clients (a crash, as far as they can tell).</summary>
    public async Task KillAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Exchange(ref _stopped, 1);
        await RunAsync(_binDirectory, "pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"], _runAsPostgres, cancellationToken);
    }

    /// <summary>Starts again a cluster this instance started and then stopped or killed, on the same port.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        var options = _serverOptions ?? throw new InvalidOperationException("Only a cluster started by this instance can be restarted.");
        var result = await RunAsync(_binDirectory, "pg_ctl", ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-o", options, "start"],
            _runAsPostgres, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"PostgreSQL did not restart: {result.Output}\n{TailOfLog(LogFile)}");
        }

        Interlocked.Exchange(ref _stopped, 0);
    }

    /// <summary>Stops the cluster (if started here) and deletes its data folder.</summary>
    public async Task DestroyAsync(CancellationToken cancellationToken = default)
    {
        await KillAsync(cancellationToken);
        Directory.Delete(DataDirectory, recursive: true);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>
    /// Runs one of the cluster's client programs (psql, pgbench, ...) and returns its exit code and output; they find
    /// their passwords in <see cref="CredentialsFile"/> (PGPASSFILE).
    /// </summary>
    public Task<(int ExitCode, string Output)> RunToolAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        RunAsync(_binDirectory, tool, arguments, runAsPostgres: false, cancellationToken,
            environment: new Dictionary<string, string> { ["PGPASSFILE"] = CredentialsFile });

    /// <summary>Finds the folder holding the server binaries: PATH first, then the newest /usr/lib/postgresql/N/bin.</summary>
    public static string? FindBinDirectory()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var initdb = Path.Combine(dir, "initdb");
            if (File.Exists(initdb))
            {
                // /usr/local/bin may hold links into the real bin folder; pg_ctl wants its siblings beside it.
                var resolved = new FileInfo(initdb).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? initdb;
                return Path.GetDirectoryName(resolved);
            }
        }

        const string debianRoot = "/usr/lib/postgresql";
        if (!Directory.Exists(debianRoot))
        {
            return null;
        }

        return Directory.GetDirectories(debianRoot)
            .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
            .Where(d => File.Exists(Path.Combine(d.Dir, "initdb")))
            .OrderByDescending(d => d.Version)
            .Select(d => d.Dir)
            .FirstOrDefault();
    }

    private static async Task InitDbAsync(
        string bin, string dataDirectory, bool runAsPostgres, bool durable, LocalClusterCredentials credentials, CancellationToken cancellationToken)
    {
        if (runAsPostgres)
        {
            var chown = await RunAsync("/usr/bin", "chown", ["-R", "postgres:postgres", dataDirectory], runAsPostgres: false, cancellationToken);
            if (chown.ExitCode != 0)
            {
                throw new InvalidOperationException(
                    $"Running as root, the data folder must belong to the postgres OS user, but chown failed: {chown.Output}");
            }
        }

        // The superuser's password reaches initdb in a file of a private temporary folder (never on a command line);
        // the credentials file itself can only be written once initdb has filled the (empty) data folder.
        var password = credentials.PasswordOf(Superuser, save: false);
        var secrets = Directory.CreateTempSubdirectory("opsconsole-initdb-");
        try
        {
            var pwfile = Path.Combine(secrets.FullName, "pw");
            await using (var writer = new StreamWriter(LocalClusterCredentials.CreatePrivate(pwfile)))
            {
                await writer.WriteAsync(password + "\n");
            }
            if (runAsPostgres)
            {
                await RunAsync("/usr/bin", "chown", ["-R", "postgres:postgres", secrets.FullName], runAsPostgres: false, cancellationToken);
            }

            List<string> args = ["-D", dataDirectory, "-U", Superuser, "-A", "scram-sha-256", "--pwfile=" + pwfile, "-E", "UTF8", "--no-locale"];
            if (!durable)
            {
                args.Add("--no-sync");
            }

            var result = await RunAsync(bin, "initdb", args, runAsPostgres, cancellationToken);
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"initdb failed in {dataDirectory}: {result.Output}");
            }
        }
        finally
        {
            secrets.Delete(recursive: true);
        }

        credentials.Save();
        await WriteHbaAsync(dataDirectory, cancellationToken);
    }

    // Loopback only (the server listens nowhere else and has no Unix socket), passwords only.
    private const string HbaConf = """
        # Written by OpsConsole: SCRAM password authentication on loopback only, no trust.
        # The passwords are in opsconsole.pgpass beside this file (readable by the console's OS user only).
        host all all 127.0.0.1/32 scram-sha-256
        host all all ::1/128 scram-sha-256

        """;

    private static bool IsSecured(string dataDirectory)
    {
        var hba = Path.Combine(dataDirectory, "pg_hba.conf");
        return File.Exists(hba) && File.ReadAllText(hba) == HbaConf;
    }

    private static async Task WriteHbaAsync(string dataDirectory, CancellationToken cancellationToken) =>
        // Overwriting keeps the file's owner (postgres, when the console runs as root).
        await File.WriteAllTextAsync(Path.Combine(dataDirectory, "pg_hba.conf"), HbaConf, cancellationToken);

    private static async Task SecureAsync(
        string bin, string dataDirectory, bool runAsPostgres, int? runningPort, LocalClusterCredentials credentials, CancellationToken cancellationToken)
    {
        var setPassword = $"ALTER ROLE {Superuser} PASSWORD '{credentials.PasswordOf(Superuser)}'";
        if (runningPort is int port)
        {
            // Still served with trust by the run that started it: set the password, then reload the new rules.
            var builder = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = port, Username = Superuser, Database = "postgres", Pooling = false };
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using (var command = new NpgsqlCommand(setPassword, connection))
            {
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            await WriteHbaAsync(dataDirectory, cancellationToken);
            await using var reload = new NpgsqlCommand("SELECT pg_reload_conf()", connection);
            await reload.ExecuteNonQueryAsync(cancellationToken);
            return;
        }

        var result = await RunAsync(bin, "postgres", ["--single", "-D", dataDirectory, "postgres"], runAsPostgres, cancellationToken, input: setPassword + "\n");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"Could not set the superuser's password in {dataDirectory}: {result.Output}");
        }

        await WriteHbaAsync(dataDirectory, cancellationToken);
    }

    /// <summary>The port of the server running on <paramref name="dataDirectory"/> (from postmaster.pid), or null when none runs.</summary>
    public static int? RunningPort(string dataDirectory) => ReadRunningPort(dataDirectory);

    private static int? ReadRunningPort(string dataDirectory)
    {
        var pidFile = Path.Combine(dataDirectory, "postmaster.pid");
        if (!File.Exists(pidFile))
        {
            return null;
        }

        // Line 4 of postmaster.pid is the port.
        var lines = File.ReadAllLines(pidFile);
        return lines.Length > 3 && int.TryParse(lines[3], out var port) ? port : null;
    }

    private static async Task<bool> AnswersAsync(int port, LocalClusterCredentials credentials, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = port, Username = Superuser, Password = credentials.PasswordOf(Superuser), Database = "postgres", Timeout = 3, Pooling = false,
        };
        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            return true;
        }
        catch (PostgresException error) when (error.SqlState == PostgresErrorCodes.InvalidPassword)
        {
            // It answers, but not to this password: not a server of this folder's credentials file.
            throw new InvalidOperationException(
                $"The PostgreSQL server on port {port} for {Path.GetDirectoryName(credentials.Path)} refuses the password in {credentials.Path}.", error);
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    /// <summary>A loopback port that is free right now.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string TailOfLog(string logFile) =>
        File.Exists(logFile) ? string.Join('\n', File.ReadLines(logFile).TakeLast(20)) : "(no server log)";

    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>True when this process runs as root, so the server must run as the <c>postgres</c> OS user.</summary>
    public static bool CallerIsRoot => OperatingSystem.IsLinux() && geteuid() == 0;

    [DllImport("libc", SetLastError = false)]
    private static extern uint geteuid();

    private static async Task<(int ExitCode, string Output)> RunAsync(
        string bin, string tool, IReadOnlyList<string> arguments, bool runAsPostgres, CancellationToken cancellationToken,
        string? input = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        if (runAsPostgres)
        {
            start.FileName = "runuser";
            foreach (var a in new[] { "-u", "postgres", "--", Path.Combine(bin, tool) })
            {
                start.ArgumentList.Add(a);
            }
        }
        else
        {
            start.FileName = Path.Combine(bin, tool);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {tool}.");
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken);
            process.StandardInput.Close();
        }

        // Read both streams while waiting: pg_ctl's server inherits nothing (it logs to -l), so they close promptly.
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, (await stdout + await stderr).Trim());
    }
}
