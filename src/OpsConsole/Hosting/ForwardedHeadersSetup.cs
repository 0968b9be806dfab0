using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace OpsConsole.Hosting;

/// <summary>Settings of the section <c>Hosting</c>: the reverse proxies whose forwarded headers are believed, and the origins the console answers as its own.</summary>
public sealed class HostingOptions
{
    public const string Section = "Hosting";

    /// <summary>
    /// Addresses (<c>10.0.0.5</c>) and networks (<c>10.0.0.0/8</c>, <c>fd00::/8</c>) of the reverse proxies in front of
    /// the console. Only a request coming from one of them has its X-Forwarded-For and X-Forwarded-Proto applied;
    /// empty (the default): no forwarded header is believed, the client is whoever connected.
    /// </summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>
    /// Origins (<c>https://ops.example.com</c>) that count as the console's own besides the one the request names
    /// (its scheme and Host header): for a proxy that passes another Host. The Blazor connection and the JSON API's
    /// changes refuse any other <c>Origin</c> (<see cref="RequestOrigins"/>).
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    internal static bool IsAddressOrNetwork(string value) =>
        IPAddress.TryParse(value, out _) || (value.Contains('/') && System.Net.IPNetwork.TryParse(value, out _));
}

/// <summary>X-Forwarded-For from the configured proxies only, so that the sign-in limiter counts the real client.</summary>
public static class ForwardedHeadersSetup
{
    public static IServiceCollection AddOpsForwardedHeaders(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HostingOptions>().Bind(configuration.GetSection(HostingOptions.Section))
            .Validate(
                o => o.KnownProxies.All(HostingOptions.IsAddressOrNetwork),
                "Hosting:KnownProxies holds IP addresses (10.0.0.5) or networks in CIDR notation (10.0.0.0/8) only.")
            .Validate(
                o => o.AllowedOrigins.All(a => RequestOrigins.Normalize(a) is not null),
                "Hosting:AllowedOrigins holds origins only: scheme, host and port, no path (https://ops.example.com).")
            .ValidateOnStart();
        return services;
    }

    /// <summary>First in the pipeline, and only with proxies configured: everything after sees the client's address.</summary>
    public static WebApplication UseOpsForwardedHeaders(this WebApplication app)
    {
        var proxies = app.Services.GetRequiredService<IOptions<HostingOptions>>().Value.KnownProxies;
        if (proxies.Length == 0)
        {
            return app;
        }

        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
            // One proxy hop: the address the nearest known proxy saw connect to it.
            ForwardLimit = 1,
        };
        // Not the defaults (loopback): the configured ones and nothing else.
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        foreach (var proxy in proxies)
        {
            if (proxy.Contains('/'))
            {
                options.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(proxy));
            }
            else
            {
                options.KnownProxies.Add(IPAddress.Parse(proxy));
            }
        }

        app.UseForwardedHeaders(options);
        return app;
    }
}
