namespace OpsConsole.Core.Live;

/// <summary>
/// A value computed at most once at a time, however many callers ask: a caller gets the latest value while it is
/// younger than the age it accepts, else joins the computation in flight, else starts one. The computation runs on
/// the thread pool (never on a caller's synchronization context, such as a Blazor circuit's) under the owner's
/// lifetime token, not a caller's: one caller leaving must not cancel what others wait for.
/// </summary>
/// <typeparam name="T">The value.</typeparam>
public sealed class SharedComputation<T>
    where T : class
{
    private readonly Func<CancellationToken, Task<T>> _compute;
    private readonly TimeProvider _time;
    private readonly CancellationToken _lifetime;
    private readonly Lock _gate = new();
    private Task<T>? _inFlight;
    private T? _latest;
    private long _latestAt;

    /// <summary>Creates it; nothing is computed until asked.</summary>
    /// <param name="compute">Computes a new value (called with <paramref name="lifetime"/>).</param>
    /// <param name="time">The clock ages are read on.</param>
    /// <param name="lifetime">Cancels a computation in flight (the owner stopping).</param>
    public SharedComputation(Func<CancellationToken, Task<T>> compute, TimeProvider time, CancellationToken lifetime)
    {
        _compute = compute;
        _time = time;
        _lifetime = lifetime;
    }

    /// <summary>The latest value, or null before the first.</summary>
    public T? Latest
    {
        get
        {
            lock (_gate)
            {
                return _latest;
            }
        }
    }

    /// <summary>How long ago the latest value was computed, or null before the first.</summary>
    public TimeSpan? LatestAge
    {
        get
        {
            lock (_gate)
            {
                return _latest is null ? null : _time.GetElapsedTime(_latestAt);
            }
        }
    }

    /// <summary>The latest value if younger than <paramref name="maxAge"/>, else the shared new one.</summary>
    public Task<T> GetAsync(TimeSpan maxAge)
    {
        lock (_gate)
        {
            if (_latest is { } latest && _time.GetElapsedTime(_latestAt) < maxAge)
            {
                return Task.FromResult(latest);
            }

            // The finally below takes this lock, so it cannot clear the task before it is stored here.
            return _inFlight ??= Task.Run(ComputeAsync);
        }
    }

    private async Task<T> ComputeAsync()
    {
        try
        {
            var value = await _compute(_lifetime).ConfigureAwait(false);
            lock (_gate)
            {
                _latest = value;
                _latestAt = _time.GetTimestamp();
            }

            return value;
        }
        finally
        {
            lock (_gate)
            {
                _inFlight = null;
            }
        }
    }
}
