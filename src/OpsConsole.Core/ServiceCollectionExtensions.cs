using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Credits;
using OpsConsole.Core.Database;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Deployments;
using OpsConsole.Core.Locks;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Overview;
using OpsConsole.Core.Purchases;
using OpsConsole.Core.Purchases.Drill;
using OpsConsole.Core.Search;
using OpsConsole.Core.Stripe;

namespace OpsConsole.Core;

/// <summary>Registration of everything OpsConsole.Core offers.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>Name of the connection string of the marketplace database.</summary>
    public const string ConnectionStringName = "Marketplace";

    /// <summary>
    /// Name of the connection string of the owner login that migrations (and the demo seed) run as; unset, they use
    /// <see cref="ConnectionStringName"/>.
    /// </summary>
    public const string MigrationsConnectionStringName = "MarketplaceMigrations";

    /// <summary>
    /// Registers everything the core library offers: the database, then one line per feature. A new feature adds its
    /// <c>AddOpsConsole&lt;Feature&gt;</c> here and nowhere else; the app and the CLI call only this.
    /// </summary>
    public static IServiceCollection AddOpsConsoleCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddOpsConsoleDatabase(configuration);
        services.AddOpsConsoleAccounts(configuration);
        services.AddOpsConsolePurchases(configuration);
        services.AddOpsConsoleMetrics(configuration);
        services.AddOpsConsoleDeployments(configuration);
        services.AddOpsConsoleDrill(configuration);
        services.AddOpsConsoleCredits(configuration);
        services.AddOpsConsoleDemo(configuration);
        services.AddOpsConsoleLocks(configuration);
        services.AddOpsConsoleStripe(configuration);
        services.AddOpsConsoleSearch();
        services.AddOpsConsoleOverview(configuration);
        return services;
    }

    /// <summary>Builds the data source the way the console uses it: application name set, reservation TTL applied.</summary>
    public static NpgsqlDataSource BuildDataSource(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException($"ConnectionStrings:{ConnectionStringName} is not set.");
        }

        var builder = new NpgsqlDataSourceBuilder(connectionString);
        // Named so the lock views can tell the console's own sessions from the marketplace's.
        builder.ConnectionStringBuilder.ApplicationName ??= "OpsConsole";
        // The console repeats a small set of statements (the purchase batch, the metrics snapshot): let Npgsql
        // prepare them on each connection after a few uses, so the server stops parsing and planning them each time.
        if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0)
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = 32;
        }
        var ttl = configuration.GetSection(PurchaseOptions.Section).Get<PurchaseOptions>()?.ReservationTtl;
        if (ttl is { } reservationTtl)
        {
            // A session setting read by validate_and_lock_leads_for_purchase; the signatures stay the contract's.
            var option = $"-c marketplace.reservation_ttl={(long)reservationTtl.TotalMilliseconds}ms";
            builder.ConnectionStringBuilder.Options = string.IsNullOrEmpty(builder.ConnectionStringBuilder.Options)
                ? option
                : builder.ConnectionStringBuilder.Options + " " + option;
        }

        return builder.Build();
    }
}
