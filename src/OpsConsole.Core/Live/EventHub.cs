using Microsoft.Extensions.Logging;

namespace OpsConsole.Core.Live;

/// <summary>
/// The in-process fan-out of one kind of change to open pages (circuits): a <see cref="Database.ChannelListener"/>
/// publishes what PostgreSQL announces, pages subscribe with an optional filter. Each subscriber is called on its
/// own without waiting for the others; a failing subscriber is logged and does not stop them.
/// </summary>
/// <typeparam name="TChange">The change announced.</typeparam>
public abstract class EventHub<TChange>(ILogger logger)
{
    private readonly Lock _gate = new();
    private readonly List<Subscription> _subscriptions = [];

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

    /// <summary>Calls <paramref name="handler"/> for every change until the returned handle is disposed.</summary>
    public IDisposable Subscribe(Func<TChange, Task> handler) => Subscribe(static _ => true, handler);

    /// <summary>Delivers <paramref name="change"/> to every subscriber whose filter takes it, without waiting for them.</summary>
    public void Publish(TChange change)
    {
        Subscription[] targets;
        lock (_gate)
        {
            targets = [.. _subscriptions.Where(s => s.Wants(change))];
        }

        foreach (var target in targets)
        {
            _ = DeliverAsync(target.Handler, change);
        }
    }

    /// <summary>Calls <paramref name="handler"/> for every change that <paramref name="wants"/> until the returned handle is disposed.</summary>
    protected IDisposable Subscribe(Func<TChange, bool> wants, Func<TChange, Task> handler)
    {
        var subscription = new Subscription(this, wants, handler);
        lock (_gate)
        {
            _subscriptions.Add(subscription);
        }

        return subscription;
    }

    private async Task DeliverAsync(Func<TChange, Task> handler, TChange change)
    {
        try
        {
            await handler(change);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "A subscriber failed on {Change}.", change);
        }
    }

    private void Remove(Subscription subscription)
    {
        lock (_gate)
        {
            _subscriptions.Remove(subscription);
        }
    }

    private sealed class Subscription(EventHub<TChange> hub, Func<TChange, bool> wants, Func<TChange, Task> handler) : IDisposable
    {
        public Func<TChange, bool> Wants { get; } = wants;

        public Func<TChange, Task> Handler { get; } = handler;

        public void Dispose() => hub.Remove(this);
    }
}
