using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Metrics;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Purchases;

public sealed class MetricsSettingsTests
{
    [Fact]
    public void The_example_documents_every_metrics_setting_with_its_default()
    {
        var example = new ConfigurationBuilder().AddJsonFile(RepositoryFile("appsettings.Example.json")).Build();

        var bound = example.GetSection(MetricsOptions.Section).Get<MetricsOptions>(o => o.ErrorOnUnknownConfiguration = true)!;

        var defaults = new MetricsOptions();
        Assert.Equal(
            (defaults.SampleInterval, defaults.StatementTimeout, defaults.PendingEvaluations, defaults.ScrapeWindow),
            (bound.SampleInterval, bound.StatementTimeout, bound.PendingEvaluations, bound.ScrapeWindow));
        Assert.Equal(KpiDefinition.From(defaults), KpiDefinition.From(bound));
        Assert.Equal("", example.GetConnectionString(MetricsOptions.ReadOnlyConnectionStringName));
    }

    [Theory]
    [InlineData("Metrics:PendingEvaluations", "0")]
    [InlineData("Metrics:ScrapeWindow", "5m")]
    [InlineData("Metrics:SuccessRate:Alert", "99.9")]
    [InlineData("Metrics:ConflictRate:Alert", "0.01")]
    public void A_setting_that_makes_no_sense_stops_the_console_at_start(string key, string value)
    {
        using var services = TestServices.Build("Host=localhost", new Dictionary<string, string?> { [key] = value });

        Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<MetricsOptions>>().Value);
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
