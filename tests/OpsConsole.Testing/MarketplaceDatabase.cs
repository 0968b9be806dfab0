using Npgsql;
using Xunit;

namespace OpsConsole.Testing;

/// <summary>
/// Class fixture: a migrated database of its own for one test class, on the run's shared
/// <see cref="PostgresServer"/>, dropped when the class is done.
/// </summary>
public sealed class MarketplaceDatabase : IAsyncLifetime
{
    private NpgsqlDataSource? _dataSource;

    /// <summary>The shared server the database lives on.</summary>
    public PostgresServer Server { get; private set; } = null!;

    /// <summary>Connection string of this class's database (superuser).</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>A data source over <see cref="ConnectionString"/>.</summary>
    public NpgsqlDataSource DataSource => _dataSource ?? throw new InvalidOperationException("The fixture is not initialised.");

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        Server = await PostgresServer.InstanceAsync();
        ConnectionString = await Server.CreateDatabaseAsync();
        _dataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        await Server.DropDatabaseAsync(ConnectionString);
    }
}
