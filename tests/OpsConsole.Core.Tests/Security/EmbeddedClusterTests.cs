using System.Diagnostics;
using Npgsql;
using OpsConsole.Core.Database;

namespace OpsConsole.Core.Tests.Security;

/// <summary>The embedded cluster takes passwords only, keeps them in a private file, and secures a folder of an earlier run in place.</summary>
public sealed class EmbeddedClusterTests
{
    [Fact]
    public async Task A_new_cluster_refuses_a_connection_without_the_password_from_its_private_credentials_file()
    {
        var folder = Path.Combine(Path.GetTempPath(), "opsconsole-scram-test-" + Guid.NewGuid().ToString("N"));
        await using var cluster = await LocalPostgresCluster.StartAsync(new LocalClusterOptions { DataDirectory = folder, Durable = false }, CancellationToken.None);
        try
        {
            await AssertSecuredAsync(cluster);
            var mode = OperatingSystem.IsWindows() ? UnixFileMode.None : File.GetUnixFileMode(cluster.CredentialsFile);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
            Assert.DoesNotContain("trust", string.Join('\n', File.ReadLines(Path.Combine(folder, "pg_hba.conf")).Where(l => !l.TrimStart().StartsWith('#'))),
                StringComparison.Ordinal);
        }
        finally
        {
            await cluster.DestroyAsync();
        }
    }

    [Fact]
    public async Task A_trust_folder_of_an_earlier_run_is_secured_in_place_and_keeps_its_data()
    {
        var folder = Path.Combine(Path.GetTempPath(), "opsconsole-upgrade-test-" + Guid.NewGuid().ToString("N"));
        var bin = LocalPostgresCluster.FindBinDirectory()!;
        Directory.CreateDirectory(folder);
        await RunAsync("chown", LocalPostgresCluster.CallerIsRoot ? ["postgres:postgres", folder] : null);
        await RunAsync(Path.Combine(bin, "initdb"), ["-D", folder, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--no-locale"], asPostgres: true);
        var port = LocalPostgresCluster.FreeLoopbackPort();
        await RunAsync(Path.Combine(bin, "pg_ctl"), ["-D", folder, "-w", "-l", Path.Combine(folder, "server.log"), "-o", $"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''", "start"], asPostgres: true);
        var trusted = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = port, Username = "postgres", Database = "postgres", Pooling = false }.ConnectionString;
        await ExecuteAsync(trusted, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)");
        await RunAsync(Path.Combine(bin, "pg_ctl"), ["-D", folder, "-w", "-m", "fast", "stop"], asPostgres: true);

        await using var cluster = await LocalPostgresCluster.StartAsync(new LocalClusterOptions { DataDirectory = folder, Durable = false }, CancellationToken.None);
        try
        {
            await AssertSecuredAsync(cluster);
            await using var connection = new NpgsqlConnection(cluster.ConnectionString());
            await connection.OpenAsync();
            await using var read = new NpgsqlCommand("SELECT v FROM kept", connection);
            Assert.Equal(7, await read.ExecuteScalarAsync());
        }
        finally
        {
            await cluster.DestroyAsync();
        }
    }

    private static async Task AssertSecuredAsync(LocalPostgresCluster cluster)
    {
        var withoutPassword = new NpgsqlConnectionStringBuilder(cluster.ConnectionString()) { Password = null, Pooling = false }.ConnectionString;
        var refused = await Assert.ThrowsAnyAsync<NpgsqlException>(() => ExecuteAsync(withoutPassword, "SELECT 1"));
        Assert.Contains("password", refused.Message, StringComparison.OrdinalIgnoreCase);
        var wrongPassword = new NpgsqlConnectionStringBuilder(cluster.ConnectionString()) { Password = "guess", Pooling = false }.ConnectionString;
        var wrong = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(wrongPassword, "SELECT 1"));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, wrong.SqlState);
        await ExecuteAsync(new NpgsqlConnectionStringBuilder(cluster.ConnectionString()) { Pooling = false }.ConnectionString, "SELECT 1");
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task RunAsync(string tool, IReadOnlyList<string>? arguments, bool asPostgres = false)
    {
        if (arguments is null)
        {
            return;
        }

        var start = new ProcessStartInfo { FileName = asPostgres && LocalPostgresCluster.CallerIsRoot ? "runuser" : tool, RedirectStandardOutput = true, RedirectStandardError = true };
        if (asPostgres && LocalPostgresCluster.CallerIsRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", tool })
            {
                start.ArgumentList.Add(a);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{tool} failed: {await output}{await error}");
    }
}
