using System.Net;
using System.Net.Sockets;
using Dapper;
using Npgsql;
using OpsConsole.Core.Database;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Database;

/// <summary>
/// "The database did not answer" against "the statement is wrong": the first raises the database banner, the second
/// is a bug for the error boundary. Both against a real server.
/// </summary>
public sealed class DatabasePingTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Theory]
    [InlineData("SELECT 1 / 0")]
    [InlineData("SELECT * FROM no_such_table")]
    [InlineData("SELEC 1")]
    [InlineData("CREATE TEMP TABLE ping_unique (id int PRIMARY KEY); INSERT INTO ping_unique VALUES (1), (1)")]
    public async Task An_error_the_server_answers_with_is_not_a_database_failure(string sql)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();

        var error = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync(sql));

        Assert.False(DatabasePing.IsDatabaseFailure(error), $"{error.SqlState} counted as the database not answering");
    }

    [Fact]
    public async Task A_stopped_server_is_a_database_failure()
    {
        var (cluster, folder) = await PostgresServer.StartPrivateClusterAsync(FreePort(), CancellationToken.None);
        try
        {
            await using var dataSource = NpgsqlDataSource.Create(cluster.ConnectionString());
            var ping = new DatabasePing(dataSource);
            await ping.PingAsync(CancellationToken.None);

            await cluster.StopAsync();
            ping.ClearPool();

            var error = await Assert.ThrowsAnyAsync<Exception>(() => ping.PingAsync(CancellationToken.None));
            Assert.True(DatabasePing.IsDatabaseFailure(error), $"{error.GetType().Name}: {error.Message}");
        }
        finally
        {
            await cluster.DestroyAsync();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_connection_ended_by_the_server_is_a_database_failure()
    {
        await using var victim = await database.DataSource.OpenConnectionAsync();
        var pid = victim.ProcessID;
        await using (var killer = await database.DataSource.OpenConnectionAsync())
        {
            Assert.True(await killer.ExecuteScalarAsync<bool>("SELECT pg_terminate_backend(@pid, 5000)", new { pid }));
        }

        var error = await Assert.ThrowsAnyAsync<Exception>(() => victim.ExecuteScalarAsync<int>("SELECT 1"));

        Assert.True(DatabasePing.IsDatabaseFailure(error), $"{error.GetType().Name}: {error.Message}");
    }

    [Theory]
    [InlineData(PostgresErrorCodes.ConnectionFailure, true)]
    [InlineData(PostgresErrorCodes.SqlClientUnableToEstablishSqlConnection, true)]
    [InlineData(PostgresErrorCodes.AdminShutdown, true)]
    [InlineData(PostgresErrorCodes.CrashShutdown, true)]
    [InlineData(PostgresErrorCodes.CannotConnectNow, true)]
    [InlineData(PostgresErrorCodes.TooManyConnections, true)]
    [InlineData(PostgresErrorCodes.QueryCanceled, true)]
    [InlineData(PostgresErrorCodes.UniqueViolation, false)]
    [InlineData(PostgresErrorCodes.UndefinedTable, false)]
    [InlineData(PostgresErrorCodes.InvalidPassword, false)]
    [InlineData(PostgresErrorCodes.SerializationFailure, false)]
    [InlineData(PostgresErrorCodes.LockNotAvailable, false)]
    public void A_server_error_counts_only_when_its_sqlstate_says_the_server_cannot_serve(string sqlState, bool failure)
    {
        var error = new PostgresException("message", "FATAL", "FATAL", sqlState);

        Assert.Equal(failure, DatabasePing.IsDatabaseFailure(error));
        Assert.Equal(failure, DatabasePing.IsDatabaseFailure(new InvalidOperationException("wrapped", error)));
    }

    [Fact]
    public void A_client_side_error_counts_when_it_is_the_connection_or_a_timeout()
    {
        Assert.True(DatabasePing.IsDatabaseFailure(new NpgsqlException("Failed to connect", new SocketException((int)SocketError.ConnectionRefused))));
        Assert.True(DatabasePing.IsDatabaseFailure(new NpgsqlException("Exception while reading from stream", new IOException("reset"))));
        Assert.True(DatabasePing.IsDatabaseFailure(new NpgsqlException("The connection pool has been exhausted", new TimeoutException())));
        Assert.True(DatabasePing.IsDatabaseFailure(new AggregateException(new TimeoutException())));
        Assert.False(DatabasePing.IsDatabaseFailure(new NpgsqlException("Received an unexpected message")));
        Assert.False(DatabasePing.IsDatabaseFailure(new InvalidOperationException("a bug")));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
