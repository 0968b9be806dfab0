using Microsoft.Extensions.Options;
using OpsConsole.Core;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Database;
using OpsConsole.Core.Demo;
using OpsConsole.Hosting;

namespace OpsConsole.Cli;

/// <summary>
/// The verbs besides serving: <c>users add NAME --role ROLE</c>, <c>migrate</c> and <c>seed-demo</c>.
/// Three verbs with one option do not need a command-line library; arguments after them are configuration
/// (<c>--ConnectionStrings:Marketplace=...</c>), as for the web app.
/// </summary>
public static class ConsoleCommands
{
    private const string Usage = """
        Usage:
          OpsConsole                              serve the console (see appsettings.Example.json)
          OpsConsole users add NAME --role ROLE   create or update an account; the password is read from standard input
          OpsConsole migrate                      apply the database migrations and exit
          OpsConsole seed-demo                    apply the migrations, seed the demo data and demo accounts, and exit
        Roles: engineer, support, manager, admin.
        """;

    public static bool IsCommand(string[] args) => args is ["users" or "migrate" or "seed-demo" or "help" or "--help", ..];

    public static async Task<int> RunAsync(string[] args, TextReader input, TextWriter output, TextWriter error)
    {
        switch (args)
        {
            case ["users", "add", var name, "--role", var role, .. var rest] when !name.StartsWith('-'):
                return await WithDatabaseAsync(rest, error, (services, ct) => AddUserAsync(services, name, role, input, output, error, ct));
            case ["migrate", .. var rest]:
                return await WithDatabaseAsync(rest, error, (_, _) => Task.FromResult(0), output);
            case ["seed-demo", .. var rest]:
                return await WithDatabaseAsync(rest, error, (services, ct) => SeedDemoAsync(services, output, ct));
            case ["help" or "--help", ..]:
                await output.WriteLineAsync(Usage);
                return 0;
            default:
                await error.WriteLineAsync(Usage);
                return 2;
        }
    }

    private static async Task<int> WithDatabaseAsync(
        string[] configurationArgs, TextWriter error, Func<IServiceProvider, CancellationToken, Task<int>> command, TextWriter? reportMigrations = null)
    {
        var builder = Host.CreateApplicationBuilder(configurationArgs);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        await using var database = await ConsoleDatabase.StartOrExplainAsync(builder.Configuration, error, CancellationToken.None);
        if (database is null)
        {
            return 1;
        }

        database.ApplyTo(builder.Configuration);
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
            var migration = await DatabaseMigrator.MigrateAsync(database.ConnectionString, stop.Token);
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
