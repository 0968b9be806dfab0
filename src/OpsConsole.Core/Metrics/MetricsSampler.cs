using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Live;

namespace OpsConsole.Core.Metrics;

/// <summary>
/// The one sampler of a console instance. Every <see cref="MetricsOptions.SampleInterval"/> it computes, once,
/// the snapshot of each window that some open page is due to refresh, and pushes it to all of that window's
/// subscribers; the Prometheus endpoint reads the same snapshots. So the number of database round trips per
/// interval is at most one per window in use, however many pages are open (<see cref="QueriesExecuted"/>
/// counts them). Each computed snapshot is one evaluation of that window's KPI state machines; an evaluation more
/// than two minutes (or three intervals) after the window's previous one starts the pending period anew.
/// </summary>
public sealed partial class MetricsSampler : PeriodicSampler
{
    private readonly PurchaseMetricsQuery _query;
    private readonly ILogger<MetricsSampler> _logger;
    private readonly int _pendingEvaluations;
    private readonly TimeSpan _pendingResetAfter;
    private readonly Dictionary<MetricsWindow, WindowState> _windows = [];
    private readonly Lock _gate = new();
    private readonly List<MetricsSubscription> _subscribers = [];

    /// <summary>Creates the sampler; it samples once started as a hosted service, or when <see cref="SampleAsync"/> is called.</summary>
    public MetricsSampler(PurchaseMetricsQuery query, IOptions<MetricsOptions> options, TimeProvider time, ILogger<MetricsSampler> logger)
        : base(options.Value.SampleInterval, time)
    {
        _query = query;
        _logger = logger;
        _pendingEvaluations = options.Value.PendingEvaluations;
        // Twice the longest refresh a page offers (1 min), or three intervals if those are longer.
        _pendingResetAfter = TimeSpan.FromTicks(Math.Max(Interval.Ticks * 3, TimeSpan.FromMinutes(2).Ticks));
        Definitions = KpiDefinition.From(options.Value);
    }

    /// <summary>The KPIs with their configured thresholds.</summary>
    public IReadOnlyList<KpiDefinition> Definitions { get; }

    /// <summary>Metrics reads made so far (one per computed snapshot): the benchmark's "queries per interval".</summary>
    public long QueriesExecuted => _query.Executed;

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
    /// Subscribes to the snapshots of <paramref name="window"/>: one is delivered at once (the latest if it is
    /// fresh, else a new one), then one every <paramref name="refresh"/> (never when null). Handlers run on the
    /// sampler's threads; a handler's exception is logged and affects no other subscriber.
    /// </summary>
    /// <param name="window">The window to receive.</param>
    /// <param name="refresh">How often to receive one; rounded to whole sample intervals. Null: only the first, and after <see cref="MetricsSubscription.Change"/>.</param>
    /// <param name="onSnapshot">Receives each snapshot.</param>
    /// <param name="onError">Receives the error when a snapshot could not be computed (the database is unreachable, a query timed out).</param>
    public MetricsSubscription Subscribe(
        MetricsWindow window, TimeSpan? refresh, Func<MetricsSnapshot, Task> onSnapshot, Func<Exception, Task> onError)
    {
        var subscription = new MetricsSubscription(this, window, refresh, onSnapshot, onError);
        lock (_gate)
        {
            _subscribers.Add(subscription);
        }

        DeliverSoon(subscription);
        return subscription;
    }

    /// <summary>
    /// The latest snapshot of <paramref name="window"/> if it is younger than one interval, else a new one; callers
    /// asking at the same time share one computation.
    /// </summary>
    public Task<MetricsSnapshot> GetSnapshotAsync(MetricsWindow window, CancellationToken cancellationToken) =>
        SnapshotAsync(window, Interval).WaitAsync(cancellationToken);

    /// <summary>
    /// One interval's work: for each window with a subscriber due for a refresh, one snapshot, pushed to every due
    /// subscriber of that window. The hosted loop calls it every interval; tests and benchmarks may call it directly.
    /// </summary>
    public override async Task SampleAsync(CancellationToken cancellationToken)
    {
        MetricsSubscription[] subscribers;
        lock (_gate)
        {
            subscribers = [.. _subscribers];
        }

        // Half an interval of slack, so a subscriber refreshed a little late is not skipped a whole interval.
        var slack = Interval / 2;
        foreach (var due in subscribers.Where(s => s.IsDue(slack)).GroupBy(s => s.Window))
        {
            MetricsSnapshot snapshot;
            try
            {
                // A snapshot computed moments ago (a page that just opened) serves this interval too.
                snapshot = await SnapshotAsync(due.Key, slack).WaitAsync(cancellationToken);
            }
            catch (Exception error) when (!cancellationToken.IsCancellationRequested)
            {
                LogSampleFailed(error, due.Key.Label);
                await Task.WhenAll(due.Select(s => s.FailAsync(error)));
                continue;
            }

            await Task.WhenAll(due.Select(s => s.DeliverAsync(snapshot)));
        }
    }

    internal void Remove(MetricsSubscription subscription)
    {
        lock (_gate)
        {
            _subscribers.Remove(subscription);
        }
    }

    internal long Now() => Time.GetTimestamp();

    internal TimeSpan Since(long timestamp) => Time.GetElapsedTime(timestamp);

    // On the thread pool: a page subscribes on its circuit's synchronization context, and the computation it may
    // start is shared by every viewer, so none of it may run on (or wait for) one circuit's context.
    internal void DeliverSoon(MetricsSubscription subscription) => _ = Task.Run(() => DeliverNowAsync(subscription));

    private async Task DeliverNowAsync(MetricsSubscription subscription)
    {
        var window = subscription.Window;
        try
        {
            var snapshot = await SnapshotAsync(window, Interval);
            await subscription.DeliverAsync(snapshot);
        }
        catch (Exception error)
        {
            LogSampleFailed(error, window.Label);
            await subscription.FailAsync(error);
        }
    }

    private Task<MetricsSnapshot> SnapshotAsync(MetricsWindow window, TimeSpan maxAge)
    {
        WindowState? state;
        lock (_gate)
        {
            if (!_windows.TryGetValue(window, out state))
            {
                state = new WindowState(window, NewMachines());
                var created = state;
                state.Snapshot = new SharedComputation<MetricsSnapshot>(cancellationToken => ComputeAsync(created, cancellationToken), Time, Lifetime);
                _windows.Add(window, state);
            }
        }

        return state.Snapshot.GetAsync(maxAge);
    }

    private async Task<MetricsSnapshot> ComputeAsync(WindowState state, CancellationToken cancellationToken)
    {
        var readings = await _query.ReadAsync(state.Window, Time.GetUtcNow(), cancellationToken);
        lock (_gate)
        {
            if (state.Snapshot.LatestAge > _pendingResetAfter)
            {
                // Evaluations far apart are not "held for N evaluations in a row": start the pending period anew.
                state.Machines = NewMachines();
            }

            return MetricsSnapshot.Evaluate(readings, Definitions, state.Machines, Time.GetUtcNow());
        }
    }

    private Dictionary<Kpi, KpiStateMachine> NewMachines() =>
        Definitions.ToDictionary(d => d.Kpi, _ => new KpiStateMachine(_pendingEvaluations));

    internal void LogHandlerFailed(Exception error) => LogSubscriberFailed(error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Metrics snapshot of window {Window} failed")]
    private partial void LogSampleFailed(Exception error, string window);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A metrics subscriber's handler failed")]
    private partial void LogSubscriberFailed(Exception error);

    private sealed class WindowState(MetricsWindow window, IReadOnlyDictionary<Kpi, KpiStateMachine> machines)
    {
        public MetricsWindow Window { get; } = window;

        public IReadOnlyDictionary<Kpi, KpiStateMachine> Machines { get; set; } = machines;

        public SharedComputation<MetricsSnapshot> Snapshot { get; set; } = null!;
    }
}

/// <summary>One viewer's subscription to <see cref="MetricsSampler"/>. Dispose it when the viewer goes away.</summary>
public sealed class MetricsSubscription : SamplerSubscription<MetricsSnapshot>
{
    private readonly MetricsSampler _sampler;
    private long? _lastAttempt;

    internal MetricsSubscription(
        MetricsSampler sampler, MetricsWindow window, TimeSpan? refresh, Func<MetricsSnapshot, Task> onSnapshot, Func<Exception, Task> onError)
        : base(onSnapshot, onError, sampler.LogHandlerFailed)
    {
        _sampler = sampler;
        Window = window;
        Refresh = refresh;
    }

    /// <summary>The window this subscriber receives.</summary>
    public MetricsWindow Window { get; private set; }

    /// <summary>How often it receives a snapshot; null for never (only on subscribe and change).</summary>
    public TimeSpan? Refresh { get; private set; }

    /// <summary>Switches to another window or refresh; a snapshot of the (new) window is delivered at once.</summary>
    public void Change(MetricsWindow window, TimeSpan? refresh)
    {
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            Window = window;
            Refresh = refresh;
        }

        _sampler.DeliverSoon(this);
    }

    internal bool IsDue(TimeSpan slack)
    {
        lock (Gate)
        {
            return !IsDisposed
                && Refresh is { } refresh
                && (_lastAttempt is not { } last || _sampler.Since(last) >= refresh - slack);
        }
    }

    /// <inheritdoc />
    // Late for a window changed meanwhile, or older than what this viewer already has: drop it.
    protected override bool Takes(MetricsSnapshot snapshot) =>
        snapshot.Window == Window
        && !(Delivered is { } shown && shown.Window == snapshot.Window && shown.ComputedAt > snapshot.ComputedAt);

    /// <inheritdoc />
    protected override void Attempted() => _lastAttempt = _sampler.Now();

    /// <inheritdoc />
    protected override void OnDisposed() => _sampler.Remove(this);
}
