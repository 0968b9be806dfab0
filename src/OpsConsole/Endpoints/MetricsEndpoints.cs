using OpsConsole.Core.Database;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Metrics;
using OpsConsole.Database;

namespace OpsConsole.Endpoints;

/// <summary>
/// <c>GET /metrics</c>: the purchase KPIs in Prometheus text format, for teams that watch Grafana. It answers only
/// a request bearing <c>Metrics:ScrapeToken</c>, and is off (404) while no token is set. It reads the instance's
/// shared sampler, so a scrape costs no query when a page or another scrape computed the window within the interval.
/// </summary>
public static class MetricsEndpoints
{
    /// <summary>The endpoint's path.</summary>
    public const string Path = "/metrics";

    /// <summary>Maps the endpoint. It bypasses the console's sign-in: the scrape token is its authentication.</summary>
    public static IEndpointConventionBuilder MapMetricsEndpoints(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet(Path, ScrapeAsync).AllowAnonymous();

    internal static async Task<IResult> ScrapeAsync(
        HttpContext context, MetricsSampler sampler, IOptions<MetricsOptions> options, CancellationToken cancellationToken)
    {
        var token = options.Value.ScrapeToken;
        if (string.IsNullOrEmpty(token))
        {
            return Results.Text("Not found: the metrics endpoint is off until Metrics:ScrapeToken is set.\n", statusCode: StatusCodes.Status404NotFound);
        }

        if (!BearsToken(context.Request.Headers.Authorization.ToString(), token))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"metrics\"";
            return Results.Text("Unauthorized: send Authorization: Bearer <Metrics:ScrapeToken>.\n", statusCode: StatusCodes.Status401Unauthorized);
        }

        var window = MetricsWindow.TryParse(options.Value.ScrapeWindow, out var configured) ? configured : MetricsWindow.FifteenMinutes;
        try
        {
            var snapshot = await sampler.GetSnapshotAsync(window, cancellationToken);
            return Results.Text(PrometheusExposition.Format(snapshot), PrometheusExposition.ContentType);
        }
        catch (Exception error) when (DatabasePing.IsDatabaseFailure(error))
        {
            // Prometheus records the failed scrape (up == 0); the body says why for whoever curls it.
            return Results.Text($"Service unavailable: the metrics could not be read ({error.Message}).\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    // Compares hashes, so neither the token's content nor its length leaks through timing.
    private static bool BearsToken(string authorization, string token)
    {
        const string scheme = "Bearer ";
        if (!authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(authorization[scheme.Length..].Trim()));
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        return CryptographicOperations.FixedTimeEquals(presented, expected);
    }
}
