using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpsConsole.Core;
using OpsConsole.Core.Locks;

namespace OpsConsole.Tests.Locks;

public sealed class LockSettingsTests
{
    [Fact]
    public void The_example_documents_every_lock_setting_with_its_default()
    {
        var example = new ConfigurationBuilder().AddJsonFile(RepositoryFile("appsettings.Example.json")).Build();

        var bound = example.GetSection(LockOptions.Section).Get<LockOptions>(o => o.ErrorOnUnknownConfiguration = true)!;

        var defaults = new LockOptions();
        Assert.Equal(
            (defaults.LockTimeout, defaults.StatementTimeout, defaults.WaitWarn, defaults.WaitAlert, defaults.SampleInterval, defaults.HistoryRetention),
            (bound.LockTimeout, bound.StatementTimeout, bound.WaitWarn, bound.WaitAlert, bound.SampleInterval, bound.HistoryRetention));
    }

    [Theory]
    [InlineData("Locks:LockTimeout", "00:00:00")]
    [InlineData("Locks:WaitAlert", "00:00:05")]
    [InlineData("Locks:SampleInterval", "00:00:00.010")]
    [InlineData("Locks:HistoryRetention", "01:00:00")]
    public void A_setting_that_makes_no_sense_stops_the_console_at_start(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Marketplace"] = "Host=localhost",
            [key] = value,
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddOpsConsoleCore(configuration).BuildServiceProvider();

        Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<LockOptions>>().Value);
    }

    private static string RepositoryFile(string name)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OpsConsole.sln")))
        {
            directory = directory.Parent;
        }

        return Path.Combine(directory?.FullName ?? throw new InvalidOperationException("OpsConsole.sln not found"), name);
    }
}
