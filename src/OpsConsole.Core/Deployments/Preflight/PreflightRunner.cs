using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Actions;

namespace OpsConsole.Core.Deployments.Preflight;

/// <summary>The pre-flight as the run page offers it: on the run's target, for those who run its checks.</summary>
public interface IPreflightRunner
{
    /// <summary>Which connection the pre-flight reads, in words.</summary>
    string Target { get; }

    /// <summary>Reads the target; refused when the actor may not run a deployment's checks.</summary>
    Task<OpsResult<PreflightReport>> RunAsync(OpsActor actor, CancellationToken cancellationToken);
}

/// <summary>
/// Runs <see cref="Preflight"/> on the checks' connection (<c>ConnectionStrings:MarketplaceProbe</c>, the run's target)
/// when it is set, else on the console's own database. It only reads, in a read-only transaction, like a check.
/// </summary>
public sealed class PreflightRunner(ProbeDataSource probe, NpgsqlDataSource console, IOptions<DeploymentOptions> options) : IPreflightRunner
{
    /// <inheritdoc />
    public string Target => probe.DataSource is not null
        ? $"the checks' connection (ConnectionStrings:{ProbeDataSource.ConnectionStringName})"
        : "the console's database (ConnectionStrings:Marketplace)";

    /// <inheritdoc />
    public async Task<OpsResult<PreflightReport>> RunAsync(OpsActor actor, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.SignOffDeployments) is { } refusal)
        {
            return refusal;
        }

        return await new Preflight(probe.DataSource ?? console, options.Value.ProbeTimeout).RunAsync(cancellationToken);
    }
}
