using Dapper;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpsConsole.Cli;
using OpsConsole.Core;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Purchases;
using OpsConsole.Hosting;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Security;

/// <summary>Demo mode pointed at a database that holds more than the demo: it touches only what it created.</summary>
public sealed class DemoSafetyTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task Demo_traffic_buys_only_from_and_for_the_demos_own_workspaces()
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var outsider = Guid.NewGuid();
        await connection.ExecuteAsync("""
            INSERT INTO workspaces (id, name) VALUES (@outsider, 'not the demo');
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased) VALUES (@outsider, 100000, 100000);
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price)
            SELECT gen_random_uuid(), @outsider, true, 1 FROM generate_series(1, 50);
            """, new { outsider });
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Marketplace"] = database.ConnectionString,
            ["ConnectionStrings:MarketplaceMigrations"] = database.SuperuserConnectionString,
            ["Demo:Enabled"] = "true",
            ["Demo:Buyers"] = "4",
            ["Demo:PurchasesPerSecond"] = "40",
            ["Demo:HotLeads"] = "60",
            ["Demo:LeadCount"] = "200",
        }).Build();
        await using var services = new ServiceCollection().AddLogging()
            .AddOpsConsoleCore(configuration).BuildServiceProvider();
        await services.GetRequiredService<DemoSeeder>().SeedAsync(200, CancellationToken.None);
        var stats = services.GetRequiredService<DemoTrafficStats>();
        var traffic = services.GetServices<IHostedService>().OfType<DemoTrafficService>().Single();

        await traffic.StartAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (CompletedOf(stats) < 20 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await traffic.StopAsync(CancellationToken.None);

        Assert.True(CompletedOf(stats) >= 20, "The demo traffic completed fewer than 20 purchases in 20 s.");
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM marketplace_purchases WHERE buyer_workspace_id = @outsider", new { outsider }));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("""
            SELECT count(*) FROM marketplace_purchase_items AS i JOIN leads AS l ON l.id = i.lead_id WHERE l.workspace_id = @outsider
            """, new { outsider }));
        Assert.Equal(100000m, await connection.ExecuteScalarAsync<decimal>("SELECT balance FROM workspace_credits WHERE workspace_id = @outsider", new { outsider }));
    }

    [Fact]
    public async Task The_demo_sets_the_password_of_its_own_accounts_only_and_never_of_an_account_it_did_not_create()
    {
        var accounts = new AccountService(database.DataSource, new PasswordHasher<OpsAccount>(), Options.Create(new AccountOptions()));
        await accounts.UpsertAsync("Admin", OpsRoles.Support, "the real owner's passphrase", CancellationToken.None);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Marketplace"] = database.ConnectionString,
            ["ConnectionStrings:MarketplaceMigrations"] = database.SuperuserConnectionString,
            ["Deployments:ListenForChanges"] = "false",
        }).Build();
        await using var services = new ServiceCollection().AddLogging()
            .AddOpsConsoleCore(configuration).BuildServiceProvider();

        await ConsoleStartup.SeedDemoAsync(services, new DemoMode(true, "first demo password", false), NullLogger.Instance, CancellationToken.None);
        await ConsoleStartup.SeedDemoAsync(services, new DemoMode(true, "second demo password", false), NullLogger.Instance, CancellationToken.None);

        var admin = await accounts.SignInAsync("admin", "the real owner's passphrase", CancellationToken.None);
        Assert.Equal(SignInOutcome.Succeeded, admin.Outcome);
        Assert.Equal(OpsRoles.Support, admin.Account!.Role);
        Assert.Equal(SignInOutcome.Failed, (await accounts.SignInAsync("admin", "second demo password", CancellationToken.None)).Outcome);
        Assert.Equal(SignInOutcome.Succeeded, (await accounts.SignInAsync("engineer", "second demo password", CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task Seeding_the_demo_into_a_configured_database_outside_Development_is_refused_and_changes_nothing_unless_allowed()
    {
        var target = await database.Server.CreateDatabaseAsync();
        try
        {
            var (refused, _, error) = await RunAsync(["seed-demo", "--environment=Production", $"--ConnectionStrings:Marketplace={target}"]);

            Assert.Equal(1, refused);
            Assert.Contains("Demo:AllowOnConfiguredDatabase", error, StringComparison.Ordinal);
            await using (var connection = new Npgsql.NpgsqlConnection(target))
            {
                Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM workspaces"));
            }

            var (allowed, _, allowedError) = await RunAsync(
                ["seed-demo", "--environment=Production", $"--ConnectionStrings:Marketplace={target}", "--Demo:AllowOnConfiguredDatabase=true", "--Demo:LeadCount=10"]);

            Assert.True(allowed == 0, allowedError);
            await using (var connection = new Npgsql.NpgsqlConnection(target))
            {
                Assert.Equal(DemoSeeder.WorkspaceNames.Count, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM workspaces"));
            }
        }
        finally
        {
            await database.Server.DropDatabaseAsync(target);
        }
    }

    [Fact]
    public void Demo_mode_is_allowed_on_the_embedded_database_and_in_Development()
    {
        var configuration = new ConfigurationBuilder().Build();
        var demo = DemoMode.From(DemoOptions.From(configuration), enabledByDefault: true);

        Assert.Null(demo.Refusal(databaseIsLocal: true, new Environment(Environments.Production)));
        Assert.Null(demo.Refusal(databaseIsLocal: false, new Environment(Environments.Development)));
        Assert.NotNull(demo.Refusal(databaseIsLocal: false, new Environment(Environments.Staging)));
        Assert.Null((demo with { Enabled = false }).Refusal(databaseIsLocal: false, new Environment(Environments.Production)));

        var allowed = new ConfigurationBuilder().AddInMemoryCollection([new("Demo:AllowOnConfiguredDatabase", "true")]).Build();
        Assert.Null(DemoMode.From(DemoOptions.From(allowed), enabledByDefault: true).Refusal(databaseIsLocal: false, new Environment(Environments.Staging)));
    }

    private static long CompletedOf(DemoTrafficStats stats) =>
        stats.Snapshot().Outcomes.Where(o => o.Outcome == PurchaseOutcome.Completed).Sum(o => (long)o.Count);

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ConsoleCommands.RunAsync(args, new StringReader(""), output, error);
        return (exitCode, output.ToString(), error.ToString());
    }

    private sealed class Environment(string name) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;

        public string ApplicationName { get; set; } = "OpsConsole";

        public string ContentRootPath { get; set; } = "";

        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = null!;
    }
}
