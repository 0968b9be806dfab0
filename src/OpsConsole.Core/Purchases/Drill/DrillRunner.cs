using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Actions;

namespace OpsConsole.Core.Purchases.Drill;

/// <summary>The concurrency drill as the console offers it: who may run it, on which target, one at a time.</summary>
public interface IDrillRunner
{
    /// <summary>Whether a target is configured (<c>ConnectionStrings:MarketplaceDrill</c>); without one every run is refused.</summary>
    bool HasTarget { get; }

    /// <summary>Runs the drill on the configured target; refused when the actor may not, no target is set, another drill runs, or the drill refuses.</summary>
    Task<OpsResult<DrillReport>> RunAsync(OpsActor actor, DrillParameters parameters, IProgress<DrillProgress>? progress, CancellationToken cancellationToken);

    /// <summary>Removes what drills left on the target (all drills, or <paramref name="drillId"/>'s); returns the rows removed.</summary>
    Task<OpsResult<int>> CleanupAsync(OpsActor actor, string? drillId, CancellationToken cancellationToken);
}

/// <summary>
/// Runs <see cref="ConcurrencyDrill"/> on <c>ConnectionStrings:MarketplaceDrill</c>: a login that may write the
/// marketplace tables of a staging database (the probe login is read-only by design, so the drill has its own).
/// Running it needs the permission that runs a deployment's checks; one drill runs at a time per console instance.
/// </summary>
public sealed class DrillRunner : IDrillRunner, IAsyncDisposable
{
    /// <summary>Name of the connection string.</summary>
    public const string ConnectionStringName = "MarketplaceDrill";

    private readonly NpgsqlDataSource? _target;
    private readonly DrillOptions _options;
    private readonly ILogger<DrillRunner> _logger;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private string? _runningFor;

    /// <summary>A runner on <paramref name="connectionString"/> (null or blank: no target, every run refused).</summary>
    public DrillRunner(string? connectionString, IOptions<DrillOptions> options, ILogger<DrillRunner> logger)
    {
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            var builder = new NpgsqlDataSourceBuilder(connectionString);
            builder.ConnectionStringBuilder.ApplicationName ??= "OpsConsole.Drill";
            _target = builder.Build();
        }

        _options = options.Value;
        _logger = logger;
    }

    /// <inheritdoc />
    public bool HasTarget => _target is not null;

    /// <inheritdoc />
    public async Task<OpsResult<DrillReport>> RunAsync(
        OpsActor actor, DrillParameters parameters, IProgress<DrillProgress>? progress, CancellationToken cancellationToken)
    {
        if (Refuse(actor) is { } refusal)
        {
            return refusal;
        }

        if (!await _oneAtATime.WaitAsync(0, cancellationToken))
        {
            return Refusal.Conflict($"A drill is already running on this console (started by {_runningFor}); wait for its report.");
        }

        try
        {
            _runningFor = actor.DisplayName;
            var result = await new ConcurrencyDrill(_target!, _options).RunAsync(parameters, progress, cancellationToken);
            if (result.Succeeded)
            {
                var report = result.Value;
                _logger.LogInformation(
                    "Drill {DrillId} run by {Actor} on {Database} ({Parameters}): {Verdict}; {Findings}",
                    report.DrillId, actor.AuditName, report.Database, report.Parameters, report.Clean ? "clean" : "failures found",
                    string.Join(", ", report.Findings.Select(f => $"{f.Failure} {f.Count}")));
            }

            return result;
        }
        finally
        {
            _runningFor = null;
            _oneAtATime.Release();
        }
    }

    /// <inheritdoc />
    public async Task<OpsResult<int>> CleanupAsync(OpsActor actor, string? drillId, CancellationToken cancellationToken)
    {
        if (Refuse(actor) is { } refusal)
        {
            return refusal;
        }

        var result = await new ConcurrencyDrill(_target!, _options).CleanupAsync(drillId, cancellationToken);
        if (result.Succeeded)
        {
            _logger.LogInformation("Drill clean-up ({DrillId}) by {Actor}: {Rows} rows removed", drillId ?? "all drills", actor.AuditName, result.Value);
        }

        return result;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _oneAtATime.Dispose();
        if (_target is not null)
        {
            await _target.DisposeAsync();
        }
    }

    private Refusal? Refuse(OpsActor actor) =>
        actor.Lacks(OpsPermissions.SignOffDeployments)
        ?? (_target is null
            ? Refusal.Rule($"No drill target is set: set ConnectionStrings:{ConnectionStringName} to a staging marketplace database (and list it in {DrillOptions.Section}:AllowedDatabases).")
            : null);
}
