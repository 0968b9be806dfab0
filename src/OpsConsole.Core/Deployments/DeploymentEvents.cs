using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Database;

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
/// listener publishes what PostgreSQL announces. A failing subscriber is logged and does not stop the others.
/// </summary>
public sealed class DeploymentEventHub(ILogger<DeploymentEventHub> logger)
{
    private readonly Lock _gate = new();
    private readonly List<Subscription> _subscriptions = [];

    /// <summary>
    /// Calls <paramref name="handler"/> for every change of run <paramref name="runId"/> (every run when null) and every
    /// resync, until the returned handle is disposed.
    /// </summary>
    public IDisposable Subscribe(long? runId, Func<DeploymentChange, Task> handler)
    {
        var subscription = new Subscription(this, runId, handler);
        lock (_gate)
        {
            _subscriptions.Add(subscription);
        }

        return subscription;
    }

    /// <summary>How many subscriptions are open (for tests and diagnostics).</summary>
    public int SubscriberCount
    {
        get
        {
            lock (_gate)
            {
                return _subscriptions.Count;
            }
        }
    }

    /// <summary>Delivers <paramref name="change"/> to the matching subscribers, each on its own, without waiting for them.</summary>
    public void Publish(DeploymentChange change)
    {
        Subscription[] targets;
        lock (_gate)
        {
            targets = [.. _subscriptions.Where(s => change.IsResync || s.RunId is null || s.RunId == change.RunId)];
        }

        foreach (var target in targets)
        {
            _ = DeliverAsync(target, change);
        }
    }

    private async Task DeliverAsync(Subscription target, DeploymentChange change)
    {
        try
        {
            await target.Handler(change);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "A subscriber to deployment run {RunId} failed on event {EventId}.", change.RunId, change.EventId);
        }
    }

    private void Remove(Subscription subscription)
    {
        lock (_gate)
        {
            _subscriptions.Remove(subscription);
        }
    }

    private sealed class Subscription(DeploymentEventHub hub, long? runId, Func<DeploymentChange, Task> handler) : IDisposable
    {
        public long? RunId { get; } = runId;

        public Func<DeploymentChange, Task> Handler { get; } = handler;

        public void Dispose() => hub.Remove(this);
    }
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
