using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
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
        return services;
    }

    public static IEndpointConventionBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapHealthChecks(Path, new HealthCheckOptions { ResponseWriter = WriteAsync })
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
