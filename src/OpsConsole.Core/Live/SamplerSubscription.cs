namespace OpsConsole.Core.Live;

/// <summary>
/// One viewer's subscription to a sampler: each snapshot the viewer takes is handed over once, in order, until the
/// subscription is disposed. Handlers run on the sampler's threads; a handler's exception is logged and affects no
/// other viewer. Dispose it when the viewer goes away.
/// </summary>
/// <typeparam name="TSnapshot">What the sampler computes.</typeparam>
public abstract class SamplerSubscription<TSnapshot> : IDisposable
    where TSnapshot : class
{
    private readonly Func<TSnapshot, Task> _onSnapshot;
    private readonly Func<Exception, Task> _onError;
    private readonly Action<Exception> _handlerFailed;

    /// <summary>Creates it.</summary>
    /// <param name="onSnapshot">Receives each snapshot.</param>
    /// <param name="onError">Receives the error when no snapshot could be computed.</param>
    /// <param name="handlerFailed">Logs a handler's exception.</param>
    protected SamplerSubscription(Func<TSnapshot, Task> onSnapshot, Func<Exception, Task> onError, Action<Exception> handlerFailed)
    {
        _onSnapshot = onSnapshot;
        _onError = onError;
        _handlerFailed = handlerFailed;
    }

    /// <summary>Guards this subscription's state.</summary>
    protected Lock Gate { get; } = new();

    /// <summary>True once disposed (read under <see cref="Gate"/>).</summary>
    protected bool IsDisposed { get; private set; }

    /// <summary>The last snapshot handed to the viewer (read under <see cref="Gate"/>).</summary>
    protected TSnapshot? Delivered { get; private set; }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (Gate)
        {
            IsDisposed = true;
        }

        OnDisposed();
        GC.SuppressFinalize(this);
    }

    /// <summary>Called under <see cref="Gate"/>: whether this viewer takes <paramref name="snapshot"/> (not one it has moved past).</summary>
    protected abstract bool Takes(TSnapshot snapshot);

    /// <summary>Called under <see cref="Gate"/> for each snapshot taken or error received.</summary>
    protected virtual void Attempted()
    {
    }

    /// <summary>Called once disposed: leave the sampler.</summary>
    protected abstract void OnDisposed();

    internal async Task DeliverAsync(TSnapshot snapshot)
    {
        lock (Gate)
        {
            if (IsDisposed || !Takes(snapshot))
            {
                return;
            }

            Attempted();
            if (ReferenceEquals(Delivered, snapshot))
            {
                return;
            }

            Delivered = snapshot;
        }

        await CallAsync(_onSnapshot, snapshot);
    }

    internal async Task FailAsync(Exception error)
    {
        lock (Gate)
        {
            if (IsDisposed)
            {
                return;
            }

            Attempted();
        }

        await CallAsync(_onError, error);
    }

    private async Task CallAsync<T>(Func<T, Task> handler, T value)
    {
        try
        {
            await handler(value);
        }
        catch (Exception error)
        {
            _handlerFailed(error);
        }
    }
}
