using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpsConsole.Core;

namespace OpsConsole.Testing;

/// <summary>
/// The core services over a test database, registered exactly as the console registers them
/// (<see cref="ServiceCollectionExtensions.AddOpsConsoleCore"/>), with a test's settings on top. The one
/// way tests, bUnit contexts and benchmarks build Core.
/// </summary>
public static class TestServices
{
    /// <summary>Configuration holding the marketplace connection string and <paramref name="settings"/>.</summary>
    public static IConfiguration Configuration(string connectionString, IEnumerable<KeyValuePair<string, string?>>? settings = null) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [$"ConnectionStrings:{ServiceCollectionExtensions.ConnectionStringName}"] = connectionString })
            .AddInMemoryCollection(settings ?? [])
            .Build();

    /// <summary>Adds logging and the core services over <paramref name="connectionString"/> to <paramref name="services"/> (a bUnit context's, say).</summary>
    public static IServiceCollection AddOpsConsoleCoreFor(
        this IServiceCollection services, string connectionString, IEnumerable<KeyValuePair<string, string?>>? settings = null) =>
        services.AddLogging().AddOpsConsoleCore(Configuration(connectionString, settings));

    /// <summary>
    /// A provider of the core services over <paramref name="connectionString"/>. <paramref name="time"/> replaces the
    /// clock, <paramref name="configure"/> adds or replaces other services, <paramref name="logs"/> captures log output.
    /// </summary>
    public static ServiceProvider Build(
        string connectionString,
        IEnumerable<KeyValuePair<string, string?>>? settings = null,
        TimeProvider? time = null,
        Action<IServiceCollection>? configure = null,
        ILoggerProvider? logs = null,
        LogLevel minimumLevel = LogLevel.Debug)
    {
        var services = new ServiceCollection().AddLogging(b =>
        {
            b.SetMinimumLevel(minimumLevel);
            if (logs is not null)
            {
                b.AddProvider(logs);
            }
        });
        services.AddOpsConsoleCoreFor(connectionString, settings);
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        configure?.Invoke(services);
        return services.BuildServiceProvider();
    }
}
