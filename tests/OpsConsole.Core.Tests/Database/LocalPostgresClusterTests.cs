using Npgsql;
using OpsConsole.Core.Database;

namespace OpsConsole.Core.Tests.Database;

public sealed class LocalPostgresClusterTests
{
    [Fact]
    public async Task A_cluster_started_again_on_the_same_folder_keeps_its_data()
    {
        var folder = Path.Combine(Path.GetTempPath(), "opsconsole-cluster-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var first = await LocalPostgresCluster.StartAsync(new LocalClusterOptions { DataDirectory = folder, Durable = false }, CancellationToken.None);
            await first.CreateDatabaseIfMissingAsync("kept", CancellationToken.None);
            await first.CreateDatabaseIfMissingAsync("kept", CancellationToken.None);
            await ExecuteAsync(first.ConnectionString("kept"), "CREATE TABLE marker (id int); INSERT INTO marker VALUES (42)");
            await first.StopAsync();

            await using var second = await LocalPostgresCluster.StartAsync(new LocalClusterOptions { DataDirectory = folder, Durable = false }, CancellationToken.None);

            Assert.True(second.StartedHere);
            await using var connection = new NpgsqlConnection(second.ConnectionString("kept"));
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT id FROM marker", connection);
            Assert.Equal(42, await command.ExecuteScalarAsync());
        }
        finally
        {
            await StopAndDeleteAsync(folder);
        }
    }

    [Fact]
    public async Task Starting_on_a_folder_whose_server_is_running_attaches_to_it_without_starting_another()
    {
        var folder = Path.Combine(Path.GetTempPath(), "opsconsole-cluster-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var running = await LocalPostgresCluster.StartAsync(new LocalClusterOptions { DataDirectory = folder, Durable = false }, CancellationToken.None);
            var attached = await LocalPostgresCluster.StartAsync(new LocalClusterOptions { DataDirectory = folder, Durable = false }, CancellationToken.None);

            Assert.False(attached.StartedHere);
            Assert.Equal(running.Port, attached.Port);
            await attached.StopAsync(); // does not stop a server it did not start
            await ExecuteAsync(running.ConnectionString(), "SELECT 1");
        }
        finally
        {
            await StopAndDeleteAsync(folder);
        }
    }

    [Fact]
    public async Task Missing_server_binaries_give_one_message_naming_the_package_to_install()
    {
        var folder = Path.Combine(Path.GetTempPath(), "opsconsole-cluster-test-" + Guid.NewGuid().ToString("N"));

        var error = await Assert.ThrowsAsync<PostgresBinariesNotFoundException>(() => LocalPostgresCluster.StartAsync(
            new LocalClusterOptions { DataDirectory = folder, BinDirectory = "/nonexistent/bin" }, CancellationToken.None));

        Assert.Contains("apt-get install -y postgresql", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder));
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task StopAndDeleteAsync(string folder)
    {
        if (!Directory.Exists(folder))
        {
            return;
        }

        var cluster = await LocalPostgresCluster.StartAsync(new LocalClusterOptions { DataDirectory = folder, Durable = false }, CancellationToken.None);
        await cluster.DestroyAsync();
    }
}
