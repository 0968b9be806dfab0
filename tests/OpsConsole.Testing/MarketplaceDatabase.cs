using Npgsql;
using Xunit;

namespace OpsConsole.Testing;

/// <summary>
/// Class fixture: a migrated database of its own for one test class, on the run's shared
/// <see cref="PostgresServer"/>, dropped when the class is done. Services under test connect with
/// <see cref="ConnectionString"/> (the console's runtime login); the test's own set-up and assertions use
/// <see cref="DataSource"/> (superuser), which may do what the console may not.
/// </summary>
public sealed class MarketplaceDatabase : IAsyncLifetime
{
    private NpgsqlDataSource? _dataSource;

    /// <summary>The shared server the database lives on.</summary>
    public PostgresServer Server { get; private set; } = null!;

    /// <summary>Connection string of this class's database as the console's runtime login (<c>opsconsole_app</c>).</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>Connection string of this class's database as the superuser: set-up, assertions, DDL.</summary>
    public string SuperuserConnectionString { get; private set; } = "";

    /// <summary>Connection string of this class's database as the runbook checks' login (<c>opsconsole_checks</c>).</summary>
    public string ProbeConnectionString { get; private set; } = "";

    /// <summary>A data source over <see cref="SuperuserConnectionString"/>.</summary>
    public NpgsqlDataSource DataSource => _dataSource ?? throw new InvalidOperationException("The fixture is not initialised.");

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        Server = await PostgresServer.InstanceAsync();
        SuperuserConnectionString = await Server.CreateDatabaseAsync();
        ConnectionString = Server.RuntimeConnectionString(SuperuserConnectionString);
        ProbeConnectionString = Server.ProbeConnectionString(SuperuserConnectionString);
        _dataSource = NpgsqlDataSource.Create(SuperuserConnectionString);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        await Server.DropDatabaseAsync(SuperuserConnectionString);
    }
}
