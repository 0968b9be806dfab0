using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Credits;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Deployments;
using OpsConsole.Core.Locks;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Stripe;

namespace OpsConsole.Core.Overview;

/// <summary>
/// The overview's one shared snapshot per console instance. While at least one page watches, it subscribes to the
/// metrics sampler (the overview's short window), the lock sampler, credit and deployment changes and the demo, and
/// re-reads what none of them brings (open runs, drift, approvals, refunds, the last sweep) every
/// <see cref="OverviewOptions.RefreshInterval"/> and on each credit or deployment change; every page gets the same
/// snapshot, so the database work does not grow with viewers. With nobody watching it reads nothing.
/// </summary>
public sealed partial class OverviewService(
    MetricsSampler metrics,
    LockSampler locks,
    CreditEventHub creditEvents,
    DeploymentEventHub deploymentEvents,
    CreditService credits,
    IDeploymentService deployments,
    StripeRefunds refunds,
    ReservationExpirySweeper sweeper,
    DemoScenarios scenarios,
    DemoTrafficStats traffic,
    IOptions<OverviewOptions> options,
    IOptions<LockOptions> lockOptions,
    IOptionsMonitor<StripeOptions> stripeOptions,
    ILogger<OverviewService> logger) : BackgroundService
{
    // The overview reads as nobody in particular, with the view permission every signed-in user has; what a viewer may
    // do is checked when they act, on their own actor.
    private static readonly OpsActor Reader = new("system:overview", "overview", null, OpsPermissions.View);

    private readonly Lock _gate = new();
    private readonly List<Func<OverviewSnapshot, Task>> _subscribers = [];
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly List<IDisposable> _upstream = [];
    private OverviewSnapshot _current = OverviewSnapshot.Empty;

    /// <summary>The latest snapshot.</summary>
    public OverviewSnapshot Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>The window of the KPI card.</summary>
    public MetricsWindow KpiWindow { get; } = MetricsWindow.Recent(options.Value.KpiWindow);

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
    /// Calls <paramref name="onSnapshot"/> with the current snapshot at once and with every new one, until the handle
    /// is disposed. Handlers run on the service's threads; a handler's exception is logged.
    /// </summary>
    public IDisposable Subscribe(Func<OverviewSnapshot, Task> onSnapshot)
    {
        bool first;
        OverviewSnapshot current;
        lock (_gate)
        {
            first = _subscribers.Count == 0;
            _subscribers.Add(onSnapshot);
            current = _current;
        }

        if (first)
        {
            Activate();
        }

        _ = DeliverAsync(onSnapshot, current);
        return new Subscription(this, onSnapshot);
    }

    /// <summary>Reads runs, credits and Stripe once and publishes (the hosted loop's work; tests call it directly).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        var runs = await ReadAsync(ReadRunsAsync, errors, "deployment runs", cancellationToken);
        var credit = await ReadAsync(ReadCreditsAsync, errors, "credits", cancellationToken);
        var stripe = await ReadAsync(ReadStripeAsync, errors, "refunds and sweeps", cancellationToken);
        Update(s => s with
        {
            Runs = runs ?? s.Runs,
            Credits = credit ?? s.Credits,
            Stripe = stripe ?? s.Stripe,
            ReadError = errors.Count == 0 ? null : string.Join(" ", errors),
        });
    }

    /// <summary>The lock part of a lock snapshot, with the thresholds of the lock view.</summary>
    public static OverviewLocks Summarize(LockSnapshot snapshot, LockOptions thresholds)
    {
        if (snapshot.TimedOut is { } timedOut)
        {
            return new OverviewLocks(0, TimeSpan.Zero, WaitLevel.Ok, null, null, null, timedOut);
        }

        var longest = snapshot.Sessions
            .Select(s => (s.Pid, Wait: snapshot.WaitedAt(s.Pid, snapshot.TakenAt)))
            .Where(s => s.Wait is not null)
            .OrderByDescending(s => s.Wait)
            .Select(s => (int?)s.Pid)
            .FirstOrDefault();
        var wait = longest is { } pid ? snapshot.WaitedAt(pid, snapshot.TakenAt) ?? TimeSpan.Zero : snapshot.Summary.LongestWait;
        var tree = longest is { } waiter ? snapshot.Tree.Trees.FirstOrDefault(t => t.Root.Flatten().Any(n => n.Node.Pid == waiter)) : snapshot.Tree.Trees.FirstOrDefault();
        var root = tree?.Root.Pid;
        var level = wait >= thresholds.WaitAlert ? WaitLevel.Alert : wait >= thresholds.WaitWarn ? WaitLevel.Warn : WaitLevel.Ok;
        return new OverviewLocks(
            snapshot.Summary.WaitingSessions,
            wait,
            level,
            root,
            root is { } r && snapshot.ByPid.TryGetValue(r, out var session) ? session.Application : null,
            longest is { } l && snapshot.Rows.TryGetValue(l, out var row) ? row.Describe() : null,
            null);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.RefreshInterval;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (SubscriberCount > 0)
                {
                    try
                    {
                        await RefreshAsync(stoppingToken);
                    }
                    catch (Exception error) when (error is not OperationCanceledException)
                    {
                        LogRefreshFailed(error.Message);
                    }
                }

                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(interval);
                try
                {
                    await _wake.Reader.ReadAsync(timeout.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        Deactivate();
        base.Dispose();
    }

    private void Activate()
    {
        var subscriptions = new List<IDisposable>
        {
            metrics.Subscribe(KpiWindow, metrics.Interval, OnMetricsAsync, OnMetricsErrorAsync),
            locks.Subscribe(OnLocksAsync, OnLocksErrorAsync),
            creditEvents.Subscribe(_ => WakeAsync()),
            deploymentEvents.Subscribe(null, _ => WakeAsync()),
            new Handler(() => scenarios.Changed -= OnDemoChanged),
            new Handler(() => traffic.Changed -= OnDemoChanged),
        };
        scenarios.Changed += OnDemoChanged;
        traffic.Changed += OnDemoChanged;
        lock (_gate)
        {
            _upstream.AddRange(subscriptions);
        }

        OnDemoChanged();
        _wake.Writer.TryWrite(true);
    }

    private void Deactivate()
    {
        IDisposable[] upstream;
        lock (_gate)
        {
            upstream = [.. _upstream];
            _upstream.Clear();
        }

        foreach (var subscription in upstream)
        {
            subscription.Dispose();
        }
    }

    private void Remove(Func<OverviewSnapshot, Task> subscriber)
    {
        bool last;
        lock (_gate)
        {
            last = _subscribers.Remove(subscriber) && _subscribers.Count == 0;
        }

        if (last)
        {
            Deactivate();
        }
    }

    private Task WakeAsync()
    {
        _wake.Writer.TryWrite(true);
        return Task.CompletedTask;
    }

    private Task OnMetricsAsync(MetricsSnapshot snapshot)
    {
        Update(s => s with { Kpis = new OverviewKpis(snapshot.Window, snapshot.Kpis, snapshot.Readings.Integrity, snapshot.ComputedAt), KpisError = null });
        return Task.CompletedTask;
    }

    private Task OnMetricsErrorAsync(Exception error)
    {
        Update(s => s with { KpisError = "The KPIs could not be read: " + error.Message });
        return Task.CompletedTask;
    }

    private Task OnLocksAsync(LockSnapshot snapshot)
    {
        Update(s => s with { Locks = Summarize(snapshot, lockOptions.Value), LocksError = null });
        return Task.CompletedTask;
    }

    private Task OnLocksErrorAsync(Exception error)
    {
        Update(s => s with { LocksError = "The lock view could not be read: " + error.Message });
        return Task.CompletedTask;
    }

    private void OnDemoChanged() => Update(s => s with
    {
        Demo = new OverviewDemo(traffic.IsRunning, traffic.IsRunning ? traffic.Snapshot() : null, scenarios.IsAvailable, scenarios.Running),
    });

    private async Task<IReadOnlyList<OverviewRun>> ReadRunsAsync(CancellationToken cancellationToken)
    {
        var list = await deployments.ListRunsAsync(Reader, cancellationToken);
        var open = new List<OverviewRun>();
        foreach (var summary in list.Value.Where(r => r.Status == DeploymentStatus.Incomplete))
        {
            var run = (await deployments.GetRunAsync(Reader, summary.Id, cancellationToken)).Value;
            var failing = run.Runbook.Probes
                .Select(p => (Probe: p, Result: run.LatestProbeResults.GetValueOrDefault(p.Key)))
                .FirstOrDefault(p => p.Result is { Passed: false });
            open.Add(new OverviewRun(
                run.Id, run.Title, run.ItemsDone, run.Runbook.Items.Count, run.ProbesPassing, run.Runbook.Probes.Count,
                SignOffRules.ApprovalBlockers(run),
                failing.Probe is null ? null : new OverviewCheck(failing.Probe.Key, failing.Probe.Title, failing.Result!.Message)));
        }

        return open;
    }

    private async Task<OverviewCredits> ReadCreditsAsync(CancellationToken cancellationToken)
    {
        var drift = (await credits.ListDriftAsync(Reader, cancellationToken)).Value;
        var pending = (await credits.ListAdjustmentsAsync(Reader, null, AdjustmentStatus.PendingApproval, cancellationToken)).Value;
        return new OverviewCredits(
            [.. drift.Select(d => new OverviewDrift(d.WorkspaceId, d.WorkspaceName, d.Discrepancy))],
            [.. pending.Select(a => new OverviewApproval(a.Id, a.WorkspaceId, a.WorkspaceName, CreditReconciliation.Describe(a.Deltas), a.MakerName))]);
    }

    private async Task<OverviewStripe> ReadStripeAsync(CancellationToken cancellationToken)
    {
        var queue = (await refunds.QueueAsync(200, cancellationToken)).Where(r => r.RefundId is null).ToList();
        var (sweep, expired) = await sweeper.LatestAsync(cancellationToken);
        return new OverviewStripe(
            queue.Count, queue.Sum(r => r.TotalPrice), queue.Count == 0 ? null : queue.Min(r => r.FlaggedAt), sweep, expired,
            stripeOptions.CurrentValue.ExpirySweepInterval);
    }

    private async Task<T?> ReadAsync<T>(Func<CancellationToken, Task<T>> read, List<string> errors, string what, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            return await read(cancellationToken);
        }
        catch (Exception error) when (Database.DatabasePing.IsDatabaseFailure(error) && !cancellationToken.IsCancellationRequested)
        {
            errors.Add($"The {what} could not be read: {error.Message}");
            return null;
        }
    }

    private void Update(Func<OverviewSnapshot, OverviewSnapshot> change)
    {
        OverviewSnapshot next;
        Func<OverviewSnapshot, Task>[] subscribers;
        lock (_gate)
        {
            _current = next = change(_current);
            subscribers = [.. _subscribers];
        }

        foreach (var subscriber in subscribers)
        {
            _ = DeliverAsync(subscriber, next);
        }
    }

    private async Task DeliverAsync(Func<OverviewSnapshot, Task> subscriber, OverviewSnapshot snapshot)
    {
        try
        {
            await subscriber(snapshot);
        }
        catch (Exception error)
        {
            LogSubscriberFailed(error);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The overview could not refresh: {Error}")]
    private partial void LogRefreshFailed(string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "An overview subscriber's handler failed")]
    private partial void LogSubscriberFailed(Exception error);

    private sealed class Subscription(OverviewService service, Func<OverviewSnapshot, Task> subscriber) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                service.Remove(subscriber);
            }
        }
    }

    private sealed class Handler(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}
