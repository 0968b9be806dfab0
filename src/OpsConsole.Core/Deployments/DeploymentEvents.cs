using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Database;
using OpsConsole.Core.Live;

namespace OpsConsole.Core.Deployments;

/// <summary>Something changed on a run: a new timeline event, in this instance or another.</summary>
/// <param name="RunId">The run; 0 for <see cref="IsResync"/>.</param>
/// <param name="EventId">The timeline event; 0 for <see cref="IsResync"/>.</param>
public sealed record DeploymentChange(long RunId, long EventId)
{
    /// <summary>Sent to every subscriber after the listener reconnected: changes may have been missed, reload.</summary>
    public static DeploymentChange Resync { get; } = new(0, 0);

    /// <summary>True for <see cref="Resync"/>.</summary>
    public bool IsResync => RunId == 0;
}

/// <summary>
/// The in-process fan-out of deployment changes: pages (circuits) subscribe to a run, or to all runs; the
/// listener publishes what PostgreSQL announces.
/// </summary>
public sealed class DeploymentEventHub(ILogger<DeploymentEventHub> logger) : EventHub<DeploymentChange>(logger)
{
    /// <summary>
    /// Calls <paramref name="handler"/> for every change of run <paramref name="runId"/> (every run when null) and every
    /// resync, until the returned handle is disposed.
    /// </summary>
    public IDisposable Subscribe(long? runId, Func<DeploymentChange, Task> handler) =>
        Subscribe(change => change.IsResync || runId is null || change.RunId == runId, handler);
}

/// <summary>
/// One per console instance: holds a connection that LISTENs on <see cref="Channel"/> and publishes every
/// notification to the <see cref="DeploymentEventHub"/>. When the connection breaks it reconnects with growing
/// delays and then tells every subscriber to resync, since notifications sent meanwhile are lost.
/// </summary>
public sealed class DeploymentEventListener(
    NpgsqlDataSource dataSource, DeploymentEventHub hub, IOptions<DeploymentOptions> options, ILogger<DeploymentEventListener> logger)
    : ChannelListener(dataSource, Channel, () => options.Value.ListenerMaxReconnectDelay, logger)
{
    /// <summary>The channel the timeline's trigger notifies (see migration 0020).</summary>
    public const string Channel = "ops_deployment_events";

    /// <inheritdoc />
    protected override void OnNotification(string payload)
    {
        var parts = payload.Split(':');
        if (parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var runId)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var eventId))
        {
            hub.Publish(new DeploymentChange(runId, eventId));
        }
        else
        {
            logger.LogWarning("Ignored a malformed deployment notification '{Payload}'.", payload);
        }
    }

    /// <inheritdoc />
    protected override void OnReconnected() => hub.Publish(DeploymentChange.Resync);
}
