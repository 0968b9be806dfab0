using Microsoft.Extensions.Configuration;
using OpsConsole.Auth;
using OpsConsole.Cli;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Credits;
using OpsConsole.Core.Database;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Deployments;
using OpsConsole.Core.Purchases;
using OpsConsole.Database;
using OpsConsole.Hosting;

namespace OpsConsole.Tests.Hosting;

public sealed class ConfigurationTests
{
    [Fact]
    public void The_example_settings_bind_to_the_options_without_an_unknown_key()
    {
        var example = new ConfigurationBuilder().AddJsonFile(RepositoryFile("appsettings.Example.json")).Build();

        Bind<LocalDatabaseOptions>(example, LocalDatabaseOptions.Section);
        Bind<DatabaseProbeOptions>(example, DatabaseProbeOptions.Section);
        Bind<DemoOptions>(example, DemoOptions.Section);
        Bind<OpenIdConnectSettings>(example, OpenIdConnectSettings.Section);
        Bind<PurchaseOptions>(example, PurchaseOptions.Section);
        Bind<DeploymentOptions>(example, DeploymentOptions.Section);
        Bind<CreditOptions>(example, CreditOptions.Section);
        Bind<AccountOptions>(example, AccountOptions.Section);
        Bind<HostingOptions>(example, HostingOptions.Section);
        // Database's own keys; its Local and Probe subsections bind to their own options above.
        var database = example.GetSection(DatabaseOptions.Section);
        Bind<DatabaseOptions>(new ConfigurationBuilder().AddInMemoryCollection(
            database.AsEnumerable(makePathsRelative: true).Where(kv => !kv.Key.StartsWith("Local", StringComparison.Ordinal) && !kv.Key.StartsWith("Probe", StringComparison.Ordinal))).Build(), null);
        Bind<OpsConsole.Core.Stripe.StripeOptions>(example, OpsConsole.Core.Stripe.StripeOptions.Section);
        Bind<OpsConsole.Core.Overview.OverviewOptions>(example, OpsConsole.Core.Overview.OverviewOptions.Section);
        Bind<OpsConsole.Core.Purchases.Drill.DrillOptions>(example, OpsConsole.Core.Purchases.Drill.DrillOptions.Section);
        Assert.Equal("", example.GetConnectionString("Marketplace"));
    }

    [Fact]
    public async Task Without_PostgreSQL_binaries_the_console_says_which_package_to_install()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await ConsoleCommands.RunAsync(
            ["migrate", "--ConnectionStrings:Marketplace=", "--Database:Local:BinDirectory=/nonexistent/postgresql/bin",
             $"--Database:Local:DataDirectory={Path.Combine(Path.GetTempPath(), $"opsconsole-nobin-{Guid.NewGuid():N}")}"],
            new StringReader(""), output, error);

        Assert.Equal(1, exitCode);
        Assert.Contains("apt-get install -y postgresql", error.ToString());
    }

    private static void Bind<T>(IConfiguration configuration, string? section) where T : new()
    {
        var source = section is null ? configuration : configuration.GetSection(section);
        Assert.True(source.GetChildren().Any(), $"The example has no section {section}");
        source.Get<T>(options => options.ErrorOnUnknownConfiguration = true);
    }

    private static string RepositoryFile(string name)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OpsConsole.sln")))
        {
            directory = directory.Parent;
        }

        return Path.Combine(directory?.FullName ?? throw new InvalidOperationException("Repository root not found."), name);
    }
}
