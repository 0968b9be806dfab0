using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OpsConsole.Core.Database;

/// <summary>Registration of the database every feature works on.</summary>
public static class DatabaseServiceCollectionExtensions
{
    /// <summary>
    /// Registers the one <c>NpgsqlDataSource</c> over <c>ConnectionStrings:Marketplace</c>, <see cref="OpsTransactions"/>,
    /// the database ping and section <c>Database</c> (validated at start).
    /// </summary>
    public static IServiceCollection AddOpsConsoleDatabase(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DatabaseOptions>().Bind(configuration.GetSection(DatabaseOptions.Section)).ValidateOnStart();
        services.AddSingleton(_ => ServiceCollectionExtensions.BuildDataSource(configuration));
        services.AddSingleton<OpsTransactions>();
        services.AddSingleton<DatabasePing>();
        return services;
    }
}
