using Microsoft.Extensions.Options;
using OpsConsole.Core;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Database;
using OpsConsole.Core.Demo;
using OpsConsole.Hosting;

namespace OpsConsole.Cli;

/// <summary>
/// The verbs besides serving: <c>users add NAME --role ROLE</c>, <c>users disable NAME</c>, <c>migrate</c>, <c>seed-demo</c> and <c>local-db</c>.
/// A handful of verbs with one option do not need a command-line library; arguments after them are configuration
/// (<c>--ConnectionStrings:Marketplace=...</c>), as for the web app.
/// </summary>
public static class ConsoleCommands
{
    private const string Usage = """
        Usage:
          OpsConsole                              serve the console (see appsettings.Example.json)
          OpsConsole users add NAME --role ROLE   create or update (and enable) an account; the password is read from standard input
          OpsConsole users disable NAME           disable an account: it cannot sign in, and its sessions end
          OpsConsole migrate                      apply the database migrations and exit
          OpsConsole seed-demo                    apply the migrations, seed the demo data and demo accounts, and exit
          OpsConsole local-db                     print the embedded cluster's owner connection string (for psql)
        Roles: engineer, support, manager, admin.
        """;

    public static bool IsCommand(string[] args) => args is ["users" or "migrate" or "seed-demo" or "local-db" or "help" or "--help", ..];

    public static async Task<int> RunAsync(string[] args, TextReader input, TextWriter output, TextWriter error)
    {
        switch (args)
        {
            case ["users", "add", var name, "--role", var role, .. var rest] when !name.StartsWith('-'):
                return await WithDatabaseAsync(rest, error, (services, ct) => AddUserAsync(services, name, role, input, output, error, ct));
            case ["users", "disable", var name, .. var rest] when !name.StartsWith('-'):
                return await WithDatabaseAsync(rest, error, (services, ct) => DisableUserAsync(services, name, output, error, ct));
            case ["migrate", .. var rest]:
                return await WithDatabaseAsync(rest, error, (_, _) => Task.FromResult(0), output, alwaysMigrate: true);
            case ["local-db", .. var rest]:
                return await PrintLocalDatabaseAsync(rest, output, error);
            case ["seed-demo", .. var rest]:
                return await WithDatabaseAsync(rest, error, (services, ct) => SeedDemoAsync(services, output, ct), seedsDemo: true);
            case ["help" or "--help", ..]:
                await output.WriteLineAsync(Usage);
                return 0;
            default:
                await error.WriteLineAsync(Usage);
                return 2;
        }
    }

    private static async Task<int> WithDatabaseAsync(
        string[] configurationArgs, TextWriter error, Func<IServiceProvider, CancellationToken, Task<int>> command, TextWriter? reportMigrations = null,
        bool alwaysMigrate = false, bool seedsDemo = false)
    {
        var builder = Host.CreateApplicationBuilder(ContentRoot.HostSettings(configurationArgs));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        await using var database = await ConsoleDatabase.StartOrExplainAsync(builder.Configuration, error, CancellationToken.None);
        if (database is null)
        {
            return 1;
        }

        database.ApplyTo(builder.Configuration);
        if (seedsDemo && (DemoMode.From(DemoOptions.From(builder.Configuration)) with { Enabled = true })
                .Refusal(database.IsLocal, builder.Environment) is { } refusal)
        {
            await error.WriteLineAsync(refusal);
            return 1;
        }

        builder.Services.AddOpsConsoleCore(builder.Configuration);
        using var host = builder.Build();
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };

        try
        {
            // The runtime login cannot migrate (it owns nothing): other verbs migrate a configured database only when
            // they are given the owner's connection string too.
            var canMigrate = alwaysMigrate || database.IsLocal
                || !string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(ConsoleConnectionStrings.Migrations));
            if (!canMigrate)
            {
                return await command(host.Services, stop.Token);
            }

            var migration = await database.MigrateAsync(DatabaseOptions.From(builder.Configuration), stop.Token);
            if (reportMigrations is not null)
            {
                await reportMigrations.WriteLineAsync(migration.AppliedScripts.Count == 0
                    ? $"The database is up to date ({migration.CurrentVersion})."
                    : $"Applied {string.Join(", ", migration.AppliedScripts)}; the database is at {migration.CurrentVersion}.");
            }

            return await command(host.Services, stop.Token);
        }
        catch (MigrationFailedException ex)
        {
            await error.WriteLineAsync(ex.Message);
            return 1;
        }
    }

    // The owner login's connection string of the running embedded cluster, read from its credentials file: only the
    // OS user who runs the console (who made the file, mode 0600) can read it.
    private static async Task<int> PrintLocalDatabaseAsync(string[] configurationArgs, TextWriter output, TextWriter error)
    {
        var configuration = new ConfigurationBuilder().AddJsonFile("appsettings.json", optional: true).AddCommandLine(configurationArgs).Build();
        var settings = LocalDatabaseOptions.From(configuration);
        var dataDirectory = Path.GetFullPath(settings.DataDirectory);
        var credentialsFile = Path.Combine(dataDirectory, LocalPostgresCluster.CredentialsFileName);
        string password;
        try
        {
            password = File.Exists(credentialsFile)
                ? LocalClusterCredentials.Open(credentialsFile).PasswordOf(ConsoleRoles.OwnerLogin, save: false)
                : throw new FileNotFoundException();
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or FileNotFoundException or DirectoryNotFoundException)
        {
            await error.WriteLineAsync(ex is UnauthorizedAccessException
                ? $"Only the OS user who runs the console can read {credentialsFile}."
                : $"No embedded cluster in {dataDirectory}: start the console once without ConnectionStrings:Marketplace.");
            return 1;
        }

        var port = LocalPostgresCluster.RunningPort(dataDirectory);
        if (port is null)
        {
            await error.WriteLineAsync($"The embedded cluster in {dataDirectory} is not running: start the console first.");
            return 1;
        }

        await output.WriteLineAsync(
            $"postgresql://{ConsoleRoles.OwnerLogin}:{Uri.EscapeDataString(password)}@127.0.0.1:{port}/{Uri.EscapeDataString(settings.DatabaseName)}");
        return 0;
    }

    private static async Task<int> AddUserAsync(
        IServiceProvider services, string name, string role, TextReader input, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (OpsRoles.Normalize(role) is null)
        {
            await error.WriteLineAsync($"Unknown role '{role}'. Roles: {string.Join(", ", OpsRoles.All)}.");
            return 2;
        }

        var password = await PasswordReader.ReadAsync(input, output, cancellationToken);
        if (string.IsNullOrEmpty(password))
        {
            await error.WriteLineAsync("No password on standard input.");
            return 2;
        }

        try
        {
            var created = await services.GetRequiredService<AccountService>().UpsertAsync(name, role, password, cancellationToken);
            await output.WriteLineAsync($"{(created ? "Created" : "Updated")} account {name} with role {OpsRoles.Normalize(role)}.");
            return 0;
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync(ex.Message);
            return 2;
        }
    }

    private static async Task<int> DisableUserAsync(
        IServiceProvider services, string name, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (!await services.GetRequiredService<AccountService>().DisableAsync(name, cancellationToken))
        {
            await error.WriteLineAsync($"No account named {name}.");
            return 1;
        }

        await output.WriteLineAsync($"Disabled account {name}: it cannot sign in, and its sessions end within Accounts:RevalidationInterval.");
        return 0;
    }

    private static async Task<int> SeedDemoAsync(IServiceProvider services, TextWriter output, CancellationToken cancellationToken)
    {
        var demo = DemoMode.From(services.GetRequiredService<IOptions<DemoOptions>>().Value, enabledByDefault: true);
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ConsoleCommands));
        await ConsoleStartup.SeedDemoAsync(services, demo, logger, cancellationToken);
        await output.WriteLineAsync(demo.PasswordGenerated
            ? $"Demo data is in place. Demo accounts ({string.Join(", ", DemoMode.Accounts.Select(a => a.UserName))}), password {demo.Password}"
            : $"Demo data is in place. Demo accounts ({string.Join(", ", DemoMode.Accounts.Select(a => a.UserName))}), password from Demo:Password");
        return 0;
    }
}
