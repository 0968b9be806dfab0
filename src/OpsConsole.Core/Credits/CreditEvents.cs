using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Database;

namespace OpsConsole.Core.Credits;

/// <summary>Something changed in the credit journal of a workspace, in this instance or another.</summary>
/// <param name="WorkspaceId">The workspace; <see cref="Guid.Empty"/> for <see cref="Resync"/>.</param>
/// <param name="AdjustmentId">The adjustment; 0 for <see cref="Resync"/>.</param>
public sealed record CreditChange(Guid WorkspaceId, long AdjustmentId)
{
    /// <summary>Sent to every subscriber after the listener reconnected: changes may have been missed, reload.</summary>
    public static CreditChange Resync { get; } = new(Guid.Empty, 0);
}

/// <summary>
/// The in-process fan-out of credit changes to open <c>/credits</c> pages. A failing subscriber is logged and does
/// not stop the others.
/// </summary>
public sealed class CreditEventHub(ILogger<CreditEventHub> logger)
{
    private readonly Lock _gate = new();
    private readonly List<Subscription> _subscriptions = [];

    /// <summary>Calls <paramref name="handler"/> for every change until the returned handle is disposed.</summary>
    public IDisposable Subscribe(Func<CreditChange, Task> handler)
    {
        var subscription = new Subscription(this, handler);
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

    /// <summary>Delivers <paramref name="change"/> to every subscriber, each on its own, without waiting for them.</summary>
    public void Publish(CreditChange change)
    {
        Subscription[] targets;
        lock (_gate)
        {
            targets = [.. _subscriptions];
        }

        foreach (var target in targets)
        {
            _ = DeliverAsync(target.Handler, change);
        }
    }

    private async Task DeliverAsync(Func<CreditChange, Task> handler, CreditChange change)
    {
        try
        {
            await handler(change);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "A subscriber to credit changes failed on adjustment {AdjustmentId}.", change.AdjustmentId);
        }
    }

    private void Remove(Subscription subscription)
    {
        lock (_gate)
        {
            _subscriptions.Remove(subscription);
        }
    }

    private sealed class Subscription(CreditEventHub hub, Func<CreditChange, Task> handler) : IDisposable
    {
        public Func<CreditChange, Task> Handler { get; } = handler;

        public void Dispose() => hub.Remove(this);
    }
}

/// <summary>LISTENs on <see cref="ChannelName"/> (notified by the journal's trigger, migration 0050) and publishes to the hub.</summary>
public sealed class CreditEventListener(
    NpgsqlDataSource dataSource, CreditEventHub hub, IOptions<CreditOptions> options, ILogger<CreditEventListener> logger)
    : ChannelListener(dataSource, ChannelName, () => options.Value.ListenerMaxReconnectDelay, logger)
{
    /// <summary>The channel the journal's trigger notifies.</summary>
    public const string ChannelName = "ops_credit_changes";

    /// <inheritdoc />
    protected override void OnNotification(string payload)
    {
        var parts = payload.Split(':');
        if (parts.Length == 2 && Guid.TryParse(parts[0], out var workspaceId) && long.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var adjustmentId))
        {
            hub.Publish(new CreditChange(workspaceId, adjustmentId));
        }
        else
        {
            logger.LogWarning("Ignored a malformed credit notification '{Payload}'.", payload);
        }
    }

    /// <inheritdoc />
    protected override void OnReconnected() => hub.Publish(CreditChange.Resync);
}
