using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace OpsConsole.Core.Demo;

/// <summary>Registration of the demo seed and, when asked, the demo traffic.</summary>
public static class DemoServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="DemoSeeder"/>, <see cref="DemoTrafficStats"/> and the traffic, which runs only when
    /// <see cref="DemoOptions.Enabled"/> is true (section <c>Demo</c>, validated at start).
    /// </summary>
    public static IServiceCollection AddOpsConsoleDemo(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DemoOptions>().Bind(configuration.GetSection(DemoOptions.Section))
            .Validate(o => o.LeadCount >= 0, "Demo:LeadCount must be 0 or more.")
            .Validate(o => o.Buyers >= 0, "Demo:Buyers must be 0 or more.")
            .Validate(o => o.PurchasesPerSecond >= 0, "Demo:PurchasesPerSecond must be 0 or more.")
            .Validate(o => o.HotLeads >= 1, "Demo:HotLeads must be 1 or more.")
            .Validate(o => o.LeadPool >= 1, "Demo:LeadPool must be 1 or more.")
            .Validate(o => o.CardCheckoutsPerSecond >= 0, "Demo:CardCheckoutsPerSecond must be 0 or more.")
            .Validate(o => o.ScenarioDuration >= TimeSpan.FromSeconds(1), "Demo:ScenarioDuration must be at least 1 s.")
            .Validate(o => o.RestockBelow >= 0, "Demo:RestockBelow must be 0 or more.")
            .ValidateOnStart();
        // The seed and the restock insert workspaces and leads, which the runtime login may not: they write as the
        // owner (ConnectionStrings:MarketplaceMigrations) when it is set.
        services.AddSingleton(sp => DemoWriter.Create(configuration, sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddSingleton(sp => new DemoSeeder(sp.GetRequiredService<DemoWriter>().DataSource));
        services.AddSingleton<DemoMarket>();
        services.AddSingleton<DemoTrafficStats>();
        services.AddSingleton<DemoLeadPool>();
        services.AddHostedService<DemoTrafficService>();
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<SlowCheckoutDemo>(sp, configuration));
        services.AddSingleton<DemoScenarios>().AddHostedService(sp => sp.GetRequiredService<DemoScenarios>());
        services.AddDemoCardPayments(configuration);
        return services;
    }
}

/// <summary>The data source the demo seed writes with: the owner's when configured, else the console's.</summary>
public sealed class DemoWriter : IAsyncDisposable
{
    private readonly bool _owned;

    private DemoWriter(NpgsqlDataSource dataSource, bool owned)
    {
        DataSource = dataSource;
        _owned = owned;
    }

    /// <summary>The data source.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>Over <c>ConnectionStrings:MarketplaceMigrations</c> when set, else <paramref name="console"/>.</summary>
    public static DemoWriter Create(IConfiguration configuration, NpgsqlDataSource console)
    {
        var owner = configuration.GetConnectionString(ServiceCollectionExtensions.MigrationsConnectionStringName);
        return string.IsNullOrWhiteSpace(owner)
            ? new DemoWriter(console, owned: false)
            : new DemoWriter(NpgsqlDataSource.Create(Database.DatabaseMigrator.AsOwner(owner)), owned: true);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _owned ? DataSource.DisposeAsync() : ValueTask.CompletedTask;
}
