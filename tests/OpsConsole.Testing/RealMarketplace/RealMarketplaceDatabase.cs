using Npgsql;

namespace OpsConsole.Testing.RealMarketplace;

/// <summary>Which purchase functions a <see cref="RealMarketplaceDatabase"/> carries.</summary>
public enum MarketplaceFix
{
    /// <summary>The schema as it stood before the shipped fix: no purchase functions.</summary>
    None,

    /// <summary>The shipped fix (20260205000001), re-expressed in <c>tests/fixtures/marketplace/shipped-fix.sql</c>.</summary>
    Shipped,

    /// <summary>Our drop-in migration applied on the schema without the shipped fix.</summary>
    DropIn,

    /// <summary>The shipped fix, then our drop-in over it (how a real database that deployed the guide gets it).</summary>
    ShippedThenDropIn,
}

/// <summary>
/// A database of its own on the run's shared <see cref="PostgresServer"/> with the marketplace's schema at
/// cdacbd82 (<c>tests/fixtures/marketplace/schema.sql</c>) and the chosen fix, each file applied with plain
/// <c>psql -v ON_ERROR_STOP=1</c> as a DBA would. Dropped on dispose.
/// </summary>
public sealed class RealMarketplaceDatabase : IAsyncDisposable
{
    /// <summary>The fixture schema, relative to the repository root.</summary>
    public const string SchemaFile = "tests/fixtures/marketplace/schema.sql";

    /// <summary>The shipped fix re-expressed, relative to the repository root.</summary>
    public const string ShippedFixFile = "tests/fixtures/marketplace/shipped-fix.sql";

    /// <summary>Our drop-in migration, relative to the repository root.</summary>
    public const string DropInFile = "supabase/migrations/20260206000001_fix_payment_race_conditions.sql";

    /// <summary>Its rollback, relative to the repository root.</summary>
    public const string RollbackFile = "supabase/migrations/rollback_20260206000001.sql";

    private RealMarketplaceDatabase(PostgresServer server, string connectionString)
    {
        Server = server;
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
        // The app's calls arrive as service_role (the admin client through PostgREST), so its grants are exercised.
        AppDataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c role=service_role" }.ConnectionString);
    }

    /// <summary>The server the database lives on.</summary>
    public PostgresServer Server { get; }

    /// <summary>Superuser connection string: set-up and assertions.</summary>
    public string ConnectionString { get; }

    /// <summary>Superuser data source: set-up and assertions.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>Connections as <c>service_role</c>, the role the app's admin client calls with.</summary>
    public NpgsqlDataSource AppDataSource { get; }

    /// <summary>Creates the database and applies the schema and <paramref name="fix"/>.</summary>
    public static async Task<RealMarketplaceDatabase> CreateAsync(MarketplaceFix fix, CancellationToken cancellationToken)
    {
        var server = await PostgresServer.InstanceAsync();
        var connectionString = await server.CreateEmptyDatabaseAsync(cancellationToken);
        var database = new RealMarketplaceDatabase(server, connectionString);
        try
        {
            string[] files = fix switch
            {
                MarketplaceFix.None => [SchemaFile],
                MarketplaceFix.Shipped => [SchemaFile, ShippedFixFile],
                MarketplaceFix.DropIn => [SchemaFile, DropInFile],
                _ => [SchemaFile, ShippedFixFile, DropInFile],
            };
            foreach (var file in files)
            {
                await database.RunPsqlFileAsync(file, cancellationToken);
            }

            return database;
        }
        catch
        {
            await database.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a repository file with <c>psql -X -q -v ON_ERROR_STOP=1</c>; fails with psql's output when it exits non-zero.</summary>
    public async Task<string> RunPsqlFileAsync(string relativePath, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await RunPsqlAsync(relativePath, cancellationToken);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"psql -f {relativePath} exited with {exitCode}:\n{output}");
        }

        return output;
    }

    /// <summary>Runs a repository file with <c>psql -X -q -v ON_ERROR_STOP=1</c> and returns its exit code and output.</summary>
    public Task<(int ExitCode, string Output)> RunPsqlAsync(string relativePath, CancellationToken cancellationToken)
    {
        var target = new NpgsqlConnectionStringBuilder(ConnectionString);
        var conninfo = $"host={target.Host} port={target.Port} user={target.Username} dbname={target.Database}";
        // dblink connects from the server process, which has no password file: it gets the password in its connection string.
        var dblink = $"{conninfo} password={target.Password ?? Server.Cluster.PasswordOf(target.Username!)}";
        return Server.Cluster.RunToolAsync(
            "psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", $"dblink_conn={dblink}", "-d", conninfo, "-f", RepositoryPath(relativePath)], cancellationToken);
    }

    /// <summary>The absolute path of a file of this repository.</summary>
    public static string RepositoryPath(string relative)
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "OpsConsole.sln")))
            {
                return Path.Combine(folder.FullName, relative);
            }
        }

        throw new InvalidOperationException($"No OpsConsole.sln above {AppContext.BaseDirectory}.");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await AppDataSource.DisposeAsync();
        await DataSource.DisposeAsync();
        await Server.DropDatabaseAsync(ConnectionString);
    }
}
