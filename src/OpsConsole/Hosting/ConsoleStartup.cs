using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Database;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Deployments;

namespace OpsConsole.Hosting;

/// <summary>What runs once before the console serves: migrations, demo seed and accounts, and the welcome text.</summary>
public static class ConsoleStartup
{
    /// <summary>
    /// Migrates the embedded database (a configured one only with <c>Database:MigrateOnStart</c>), and in demo
    /// mode seeds the demo data once and sets the demo accounts' password.
    /// </summary>
    public static async Task PrepareDatabaseAsync(this WebApplication app, ConsoleDatabase database, CancellationToken cancellationToken)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ConsoleStartup));
        var demo = DemoMode.From(app.Services.GetRequiredService<IOptions<DemoOptions>>().Value);
        string? version = null;
        var databaseOptions = app.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        if (database.IsLocal || databaseOptions.MigrateOnStart)
        {
            var migration = await database.MigrateAsync(databaseOptions, cancellationToken);
            version = migration.CurrentVersion;
            logger.LogInformation("Migrations applied: {Count}, database at {Version}", migration.AppliedScripts.Count, version);
        }

        if (demo.Enabled)
        {
            await SeedDemoAsync(app.Services, demo, logger, cancellationToken);
        }

        app.Lifetime.ApplicationStarted.Register(() => PrintWelcome(app, database, demo, version));
    }

    public static async Task SeedDemoAsync(IServiceProvider services, DemoMode demo, ILogger logger, CancellationToken cancellationToken)
    {
        var leadCount = services.GetRequiredService<IOptions<DemoOptions>>().Value.LeadCount;
        if (await services.GetRequiredService<DemoSeeder>().SeedAsync(leadCount, cancellationToken))
        {
            logger.LogInformation("Demo data seeded: {Workspaces} workspaces, {Leads} listed leads", DemoSeeder.WorkspaceNames.Count, leadCount);
        }

        var accounts = services.GetRequiredService<AccountService>();
        foreach (var (userName, role) in DemoMode.Accounts)
        {
            if (await accounts.UpsertDemoAsync(userName, role, demo.Password, cancellationToken) == DemoAccountChange.LeftAlone)
            {
                logger.LogWarning(
                    "Account {UserName} exists and was not created by the demo: left as it is, the demo password does not apply to it", userName);
            }
        }

        var runId = await services.GetRequiredService<DeploymentDemoSeed>().EnsureOpenRunAsync(cancellationToken);
        logger.LogInformation("Demo deployment run {RunId} is open on /deployments", runId);
    }

    private static void PrintWelcome(WebApplication app, ConsoleDatabase database, DemoMode demo, string? version)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var text = new System.Text.StringBuilder()
            .AppendLine()
            .AppendLine($"OpsConsole is running at {string.Join(", ", addresses)}")
            .AppendLine($"  database: {database.Describe()}" + (version is null ? "" : $", migrated to {version}"));
        if (demo.Enabled)
        {
            var options = app.Services.GetRequiredService<IOptions<DemoOptions>>().Value;
            text.AppendLine($"  demo traffic: calm baseline, {options.Buyers} buyers, {options.PurchasesPerSecond} purchases and {options.CardCheckoutsPerSecond} card checkouts per second")
                .AppendLine($"  incidents: admin starts them on the overview (rush on hot leads, slow checkout, webhook storm; {options.ScenarioDuration.TotalMinutes:0.#} min each)")
                .AppendLine(demo.PasswordGenerated
                    ? $"  demo accounts, password {demo.Password} (new at each start; set Demo:Password to keep one):"
                    : "  demo accounts, password from Demo:Password:");
            foreach (var (userName, role) in DemoMode.Accounts)
            {
                text.AppendLine($"    {userName,-10} {role}");
            }
        }

        text.AppendLine(database.IsLocal && database.Local!.StartedHere
            ? "Press Ctrl+C to stop; the local database stops with the console."
            : "Press Ctrl+C to stop.");
        Console.Out.Write(text.ToString());
    }
}
