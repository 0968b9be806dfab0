using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using OpsConsole.Core.Database;

namespace OpsConsole.Endpoints;

/// <summary>
/// <c>GET /api/health</c>: 200 with the migration version while the database answers, 503 when it
/// does not. Anonymous, for load balancers and the deployment checklist.
/// </summary>
public static class HealthEndpoints
{
    public const string Path = "/api/health";
    private const string DatabaseCheck = "database";
    private const string MigrationsCheck = "migrations";

    public static IServiceCollection AddOpsHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DatabasePingHealthCheck>(DatabaseCheck, timeout: TimeSpan.FromSeconds(3))
            .AddCheck<MigrationVersionHealthCheck>(MigrationsCheck, timeout: TimeSpan.FromSeconds(3));
        services.AddSingleton<CachedHealthReport>();
        return services;
    }

    public static IEndpointConventionBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet(Path, async (HttpContext context, CachedHealthReport health) =>
            {
                var report = await health.GetAsync().WaitAsync(context.RequestAborted);
                context.Response.StatusCode = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
                await WriteAsync(context, report);
            })
            .AllowAnonymous()
            .DisableHttpMetrics();

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        // No error text: the endpoint is anonymous, and connection errors name hosts and ports.
        var reachable = report.Entries.TryGetValue(DatabaseCheck, out var database) && database.Status == HealthStatus.Healthy;
        var version = report.Entries.TryGetValue(MigrationsCheck, out var migrations)
            && migrations.Data.TryGetValue(MigrationVersionHealthCheck.VersionKey, out var value) ? value as string : null;
        var body = new HealthResponse(report.Status.ToString(), new DatabaseHealth(reachable, version), (long)report.TotalDuration.TotalMilliseconds);
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonOptions), context.RequestAborted);
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private sealed record HealthResponse(string Status, DatabaseHealth Database, long DurationMs);

    private sealed record DatabaseHealth(bool Reachable, string? MigrationVersion);
}

/// <summary>Healthy while <see cref="DatabasePing"/> gets an answer.</summary>
internal sealed class DatabasePingHealthCheck(DatabasePing ping) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await ping.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (DatabasePing.IsDatabaseFailure(ex))
        {
            return HealthCheckResult.Unhealthy("The database does not answer.", ex);
        }
    }
}

/// <summary>Reports the newest applied migration; unhealthy only when the database cannot be asked.</summary>
internal sealed class MigrationVersionHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public const string VersionKey = "version";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var version = await DatabaseMigrator.GetCurrentVersionAsync(dataSource, cancellationToken);
            return version is null
                ? HealthCheckResult.Degraded("No migration has been applied.")
                : HealthCheckResult.Healthy(data: new Dictionary<string, object> { [VersionKey] = version });
        }
        catch (Exception ex) when (DatabasePing.IsDatabaseFailure(ex))
        {
            return HealthCheckResult.Unhealthy("The migration journal cannot be read.", ex);
        }
    }
}

/// <summary>
/// The health report, computed at most once per <see cref="MaxAge"/> however many requests ask: a flood of
/// anonymous <c>/api/health</c> requests shares one run of the checks (and one database connection) instead of
/// exhausting the pool. Requests that arrive while a run is in flight wait for that run.
/// </summary>
public sealed class CachedHealthReport(HealthCheckService checks, TimeProvider time)
{
    /// <summary>How long a report is served before the checks run again.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private Task<HealthReport>? _current;
    private DateTimeOffset _startedAt;

    /// <summary>The latest report, or the one being computed.</summary>
    public Task<HealthReport> GetAsync()
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_current is null || (_current.IsCompleted && now - _startedAt >= MaxAge))
            {
                _startedAt = now;
                // Not the request's token: the run is shared, and the checks have timeouts of their own.
                _current = checks.CheckHealthAsync(CancellationToken.None);
            }

            return _current;
        }
    }
}
