using Npgsql;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// Base of the contract tests: the class's migrated database, its test data, and a deadline per test
/// (xunit 2 has no test cancellation token), so a call stuck on a lock fails the test instead of hanging the run.
/// </summary>
public abstract class ContractTest : IDisposable
{
    private readonly CancellationTokenSource _deadline = new(TimeSpan.FromMinutes(1));

    private protected ContractTest(MarketplaceDatabase database)
    {
        Database = database;
        Data = new MarketplaceData(database.DataSource);
    }

    protected MarketplaceDatabase Database { get; }

    private protected MarketplaceData Data { get; }

    protected CancellationToken Ct => _deadline.Token;

    /// <summary>A connection of its own, outside the pool, with the given server settings (e.g. a statement timeout).</summary>
    protected async Task<NpgsqlConnection> OpenUnpooledAsync(string options = "")
    {
        var builder = new NpgsqlConnectionStringBuilder(Database.ConnectionString) { Pooling = false, Options = options };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(Ct);
        return connection;
    }

    protected async Task AssertInvariantsAsync()
    {
        await using var connection = await Database.DataSource.OpenConnectionAsync(Ct);
        await Invariants.AssertAllInvariantsAsync(connection, Ct);
    }

    /// <summary>Polls until another session of this database waits for a lock, or the deadline passes.</summary>
    protected async Task WaitUntilASessionWaitsForALockAsync()
    {
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            var waiting = await Data.QuerySingleAsync<long>("""
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
                """, null, Ct);
            if (waiting > 0)
            {
                return;
            }

            await poll.WaitForNextTickAsync(Ct);
        }

        Assert.Fail("No session started waiting for a lock within 20 seconds.");
    }

    public void Dispose()
    {
        _deadline.Dispose();
        GC.SuppressFinalize(this);
    }
}
