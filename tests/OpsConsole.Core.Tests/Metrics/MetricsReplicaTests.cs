using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Metrics;

/// <summary>
/// With <c>ConnectionStrings:MarketplaceReadOnly</c> set, the metrics read from it and nothing else does. A second
/// database of the test server stands in for the replica: different rows make it visible which one was read.
/// </summary>
public sealed class MetricsReplicaTests(MarketplaceDatabase primary) : IClassFixture<MarketplaceDatabase>, IAsyncLifetime
{
    private string _replica = "";

    public async Task InitializeAsync() => _replica = await primary.Server.CreateDatabaseAsync();

    public Task DisposeAsync() => primary.Server.DropDatabaseAsync(_replica);

    [Fact]
    public async Task With_a_read_only_connection_string_the_metrics_read_the_replica_and_purchases_still_write_the_primary()
    {
        await using (var replica = NpgsqlDataSource.Create(_replica))
        {
            var replicaBuyer = await MetricsRows.BuyerAsync(replica);
            await MetricsRows.PurchasesAsync(replica, replicaBuyer, 7, DateTimeOffset.UtcNow.AddMinutes(-1));
        }

        var sellers = await MarketSeed.WorkspacesAsync(primary.DataSource, 1, 0m);
        var buyer = (await MarketSeed.WorkspacesAsync(primary.DataSource, 1, 100m))[0];
        var leads = await MarketSeed.ListedLeadsAsync(primary.DataSource, sellers, 1, 10m);
        await using var services = TestServices.Build(primary.ConnectionString, new Dictionary<string, string?>
        {
            ["ConnectionStrings:MarketplaceReadOnly"] = _replica,
        });

        var purchase = await services.GetRequiredService<IPurchaseService>().PurchaseWithCreditsAsync(buyer, leads, "t", CancellationToken.None);
        var snapshot = await services.GetRequiredService<MetricsSampler>().GetSnapshotAsync(MetricsWindow.FifteenMinutes, CancellationToken.None);

        Assert.Equal(PurchaseOutcome.Completed, purchase.Outcome);
        Assert.Equal(7, snapshot.Readings.Current.Created);
        var source = services.GetRequiredService<MetricsDataSource>();
        Assert.True(source.IsReplica);
        Assert.NotSame(services.GetRequiredService<NpgsqlDataSource>(), source.DataSource);
    }

    [Fact]
    public async Task The_replica_connection_refuses_writes_even_when_it_points_at_a_primary()
    {
        await using var services = TestServices.Build(primary.ConnectionString, new Dictionary<string, string?>
        {
            ["ConnectionStrings:MarketplaceReadOnly"] = _replica,
        });
        await using var connection = await services.GetRequiredService<MetricsDataSource>().DataSource.OpenConnectionAsync();

        var error = await Assert.ThrowsAsync<PostgresException>(
            () => connection.ExecuteAsync("INSERT INTO workspaces (id, name) VALUES (gen_random_uuid(), 'x')"));

        Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, error.SqlState);
    }

    [Fact]
    public async Task Without_a_read_only_connection_string_the_metrics_use_the_primary_data_source()
    {
        await using var services = TestServices.Build(primary.ConnectionString);

        var source = services.GetRequiredService<MetricsDataSource>();

        Assert.False(source.IsReplica);
        Assert.Same(services.GetRequiredService<NpgsqlDataSource>(), source.DataSource);
    }
}
