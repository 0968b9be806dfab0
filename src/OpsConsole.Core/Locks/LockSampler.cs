using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Live;

namespace OpsConsole.Core.Locks;

/// <summary>
/// The one lock sampler of a console instance (the pattern of <see cref="MetricsSampler"/>). Every
/// <see cref="LockOptions.SampleInterval"/> it takes one snapshot, keeps its summary in the history (the first
/// instance to write a slot writes it) and pushes it to every open page; a page that opens gets the latest at once.
/// The history chart's points are read once per window and bucket, shared by all pages. So the round trips per
/// sample (<see cref="QueriesExecuted"/>) do not grow with the number of pages.
/// </summary>
public sealed partial class LockSampler : PeriodicSampler
{
    private readonly LockSnapshotQuery _query;
    private readonly LockHistory _history;
    private readonly ILogger<LockSampler> _logger;
    private readonly Lock _gate = new();
    private readonly List<LockSubscription> _subscribers = [];
    private readonly Dictionary<MetricsWindow, HistoryState> _histories = [];
    private readonly SharedComputation<LockSnapshot> _snapshot;
    private long _historyQueries;
    private long _samples;

    /// <summary>Creates the sampler; it samples once started as a hosted service, or when <see cref="SampleAsync"/> is called.</summary>
    public LockSampler(LockSnapshotQuery query, LockHistory history, IOptions<LockOptions> options, TimeProvider time, ILogger<LockSampler> logger)
        : base(options.Value.SampleInterval, time)
    {
        _query = query;
        _history = history;
        _logger = logger;
        Settings = options.Value;
        _snapshot = new SharedComputation<LockSnapshot>(_query.ReadAsync, time, Lifetime);
    }

    /// <summary>The settings (thresholds for the page).</summary>
    public LockOptions Settings { get; }

    /// <summary>Database round trips made so far: snapshots, row resolutions, history writes and reads.</summary>
    public long QueriesExecuted => _query.Executed + Interlocked.Read(ref _historyQueries);

    /// <summary>The latest snapshot, or null before the first.</summary>
    public LockSnapshot? Latest => _snapshot.Latest;

    /// <summary>Open subscriptions.</summary>
    public int SubscriberCount
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>
    /// Subscribes to the snapshots: the latest is delivered at once (a new one when there is none younger than an
    /// interval), then each sample. Handlers run on the sampler's threads; a handler's exception is logged.
    /// </summary>
    /// <param name="onSnapshot">Receives each snapshot (one that timed out says so in <see cref="LockSnapshot.TimedOut"/>).</param>
    /// <param name="onError">Receives the error when no snapshot could be taken (the database is unreachable).</param>
    public LockSubscription Subscribe(Func<LockSnapshot, Task> onSnapshot, Func<Exception, Task> onError)
    {
        var subscription = new LockSubscription(this, onSnapshot, onError);
        lock (_gate)
        {
            _subscribers.Add(subscription);
        }

        _ = Task.Run(() => DeliverNowAsync(subscription));
        return subscription;
    }

    /// <summary>
    /// The chart points of <paramref name="window"/>, read at most once per sample however many pages ask (a sample
    /// adds a point; between samples nothing changes).
    /// </summary>
    public Task<IReadOnlyList<LockHistoryPoint>> GetHistoryAsync(MetricsWindow window, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_histories.TryGetValue(window, out var state))
            {
                _histories[window] = state = new HistoryState();
            }

            if (state.Points is { } points && state.ReadAtSample == _samples)
            {
                return Task.FromResult(points);
            }

            return (state.InFlight ??= ReadHistoryAsync(window, state)).WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// One sample: a snapshot, its summary kept in the history (not when it timed out: a gap, never a calm point),
    /// and every subscriber served. The hosted loop calls it every interval; tests and benchmarks may call it directly.
    /// </summary>
    public override async Task SampleAsync(CancellationToken cancellationToken)
    {
        LockSnapshot snapshot;
        try
        {
            snapshot = await _snapshot.GetAsync(Interval / 2).WaitAsync(cancellationToken);
            if (snapshot.TimedOut is null)
            {
                var slot = new DateTimeOffset(snapshot.TakenAt.UtcTicks - (snapshot.TakenAt.UtcTicks % Interval.Ticks), TimeSpan.Zero);
                Interlocked.Increment(ref _historyQueries);
                await _history.WriteAsync(snapshot, slot, Interval, cancellationToken);
                lock (_gate)
                {
                    _samples++;
                }
            }
        }
        catch (Exception error) when (!cancellationToken.IsCancellationRequested)
        {
            LogSampleFailed(error);
            await Task.WhenAll(Subscribers().Select(s => s.FailAsync(error)));
            return;
        }

        await Task.WhenAll(Subscribers().Select(s => s.DeliverAsync(snapshot)));
    }

    internal void Remove(LockSubscription subscription)
    {
        lock (_gate)
        {
            _subscribers.Remove(subscription);
        }
    }

    internal void LogHandlerFailed(Exception error) => LogSubscriberFailed(error);

    private LockSubscription[] Subscribers()
    {
        lock (_gate)
        {
            return [.. _subscribers];
        }
    }

    private async Task DeliverNowAsync(LockSubscription subscription)
    {
        try
        {
            await subscription.DeliverAsync(await _snapshot.GetAsync(Interval));
        }
        catch (Exception error)
        {
            LogSampleFailed(error);
            await subscription.FailAsync(error);
        }
    }

    private async Task<IReadOnlyList<LockHistoryPoint>> ReadHistoryAsync(MetricsWindow window, HistoryState state)
    {
        await Task.Yield();
        try
        {
            Interlocked.Increment(ref _historyQueries);
            long sample;
            lock (_gate)
            {
                sample = _samples;
            }

            var points = await _history.ReadAsync(window, Time.GetUtcNow(), Lifetime);
            lock (_gate)
            {
                state.Points = points;
                state.ReadAtSample = sample;
            }

            return points;
        }
        finally
        {
            lock (_gate)
            {
                state.InFlight = null;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lock snapshot failed")]
    private partial void LogSampleFailed(Exception error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A lock view subscriber's handler failed")]
    private partial void LogSubscriberFailed(Exception error);

    private sealed class HistoryState
    {
        public Task<IReadOnlyList<LockHistoryPoint>>? InFlight { get; set; }

        public IReadOnlyList<LockHistoryPoint>? Points { get; set; }

        public long ReadAtSample { get; set; }
    }
}

/// <summary>One viewer's subscription to <see cref="LockSampler"/>. Dispose it when the viewer goes away.</summary>
public sealed class LockSubscription : SamplerSubscription<LockSnapshot>
{
    private readonly LockSampler _sampler;

    internal LockSubscription(LockSampler sampler, Func<LockSnapshot, Task> onSnapshot, Func<Exception, Task> onError)
        : base(onSnapshot, onError, sampler.LogHandlerFailed)
    {
        _sampler = sampler;
    }

    /// <inheritdoc />
    // Older than what this viewer has: drop it.
    protected override bool Takes(LockSnapshot snapshot) => Delivered is not { } shown || shown.TakenAt <= snapshot.TakenAt;

    /// <inheritdoc />
    protected override void OnDisposed() => _sampler.Remove(this);
}
