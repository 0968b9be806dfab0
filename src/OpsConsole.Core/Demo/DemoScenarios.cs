using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Database;
using OpsConsole.Core.Purchases;

namespace OpsConsole.Core.Demo;

/// <summary>The demo's incident scenarios.</summary>
public enum DemoScenario
{
    /// <summary>Several buyers reach for the same few leads at once: conflicts, retries, short lock waits.</summary>
    HotLeadRush,

    /// <summary>A checkout holds a lead's row lock while two more queue behind it: a lock tree with the lead named.</summary>
    SlowCheckout,

    /// <summary>The simulated Stripe delivers every payment event several times: the webhook duplicate rate climbs.</summary>
    WebhookStorm,
}

/// <summary>A scenario in words, for the overview.</summary>
/// <param name="Scenario">Which.</param>
/// <param name="Key">Its name in URLs, test ids and audit rows.</param>
/// <param name="Title">Its button's words.</param>
/// <param name="Story">What happens and where it shows.</param>
public sealed record DemoScenarioInfo(DemoScenario Scenario, string Key, string Title, string Story);

/// <summary>The scenario running now.</summary>
/// <param name="Info">Which.</param>
/// <param name="StartedBy">Who started it (display name).</param>
/// <param name="StartedAt">When.</param>
/// <param name="EndsAt">When it ends by itself.</param>
public sealed record RunningScenario(DemoScenarioInfo Info, string StartedBy, DateTimeOffset StartedAt, DateTimeOffset EndsAt);

/// <summary>
/// Starts the demo's incident scenarios on top of the calm baseline, one at a time, each ending by itself after
/// <see cref="DemoOptions.ScenarioDuration"/>. Only an actor with <see cref="OpsPermissions.RunDemoScenarios"/> (admin)
/// may start one, and each start writes an <c>audit_logs</c> row <c>demo_scenario_started</c>.
/// </summary>
public sealed partial class DemoScenarios(
    OpsTransactions transactions,
    IPurchaseService purchases,
    DemoMarket market,
    DemoLeadPool pool,
    SlowCheckoutDemo slowCheckout,
    DemoTrafficStats stats,
    IOptions<DemoOptions> options,
    TimeProvider time,
    ILogger<DemoScenarios> logger) : BackgroundService
{
    /// <summary>The audit action of a start.</summary>
    public const string StartedAuditAction = "demo_scenario_started";

    /// <summary>The actor of the scenarios' purchases.</summary>
    public const string Actor = "demo-scenario";

    /// <summary>Buyers in each burst of the rush.</summary>
    public const int RushBuyers = 6;

    private static readonly TimeSpan BetweenBursts = TimeSpan.FromMilliseconds(150);

    private readonly Lock _gate = new();
    private RunningScenario? _running;
    private CancellationTokenSource? _runStopping;
    private Task _run = Task.CompletedTask;
    private CancellationToken _hostStopping;

    /// <summary>Every scenario, in the order the overview offers them.</summary>
    public static IReadOnlyList<DemoScenarioInfo> All { get; } =
    [
        new(DemoScenario.HotLeadRush, "hot-lead-rush", "Rush on hot leads",
            "Six buyers at a time reach for the same few leads: conflicts and retries; the conflict rate turns to ALERT."),
        new(DemoScenario.SlowCheckout, "slow-checkout", "Slow checkout",
            "A checkout holds a lead's row lock while two more queue behind it: a lock tree on /locks, with the lead named."),
        new(DemoScenario.WebhookStorm, "webhook-storm", "Webhook retry storm",
            "The simulated Stripe delivers every payment event four times, signed, to the real receiver: the duplicate rate turns to ALERT."),
    ];

    /// <summary>The scenario with this <see cref="DemoScenarioInfo.Key"/>, or null.</summary>
    public static DemoScenarioInfo? Find(string? key) => All.FirstOrDefault(s => string.Equals(s.Key, key, StringComparison.Ordinal));

    /// <summary>True when the demo traffic is configured on, so that a scenario has a baseline to disturb.</summary>
    public bool IsAvailable => options.Value is { Enabled: true, PurchasesPerSecond: > 0 };

    /// <summary>The scenario running now, or null.</summary>
    public RunningScenario? Running
    {
        get
        {
            lock (_gate)
            {
                return _running;
            }
        }
    }

    /// <summary>Raised when a scenario starts or ends (on the thread that started or ended it).</summary>
    public event Action? Changed;

    /// <summary>True while <paramref name="scenario"/> runs.</summary>
    public bool IsActive(DemoScenario scenario) => Running?.Info.Scenario == scenario;

    /// <summary>
    /// Starts <paramref name="scenario"/> for <see cref="DemoOptions.ScenarioDuration"/>. Refused without the permission,
    /// without demo traffic, or while another scenario runs; nothing is written then.
    /// </summary>
    public async Task<OpsResult<RunningScenario>> StartAsync(OpsActor actor, DemoScenario scenario, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.RunDemoScenarios) is { } forbidden)
        {
            return forbidden;
        }

        if (All.FirstOrDefault(s => s.Scenario == scenario) is not { } info)
        {
            return Refusal.Invalid($"There is no demo scenario '{scenario}'.");
        }

        if (!IsAvailable)
        {
            return Refusal.Rule("Demo scenarios run on top of the demo traffic, and it is off here (Demo:Enabled, Demo:PurchasesPerSecond).");
        }

        if (info.Scenario == DemoScenario.WebhookStorm && !stats.CardPaymentsRunning)
        {
            return Refusal.Rule("The webhook storm needs the demo's card payments, which are not running (Demo:CardCheckoutsPerSecond, or no HTTP address).");
        }

        var duration = options.Value.ScenarioDuration;
        var now = time.GetUtcNow();
        var running = new RunningScenario(info, actor.DisplayName, now, now + duration);
        lock (_gate)
        {
            if (_running is { } other)
            {
                return Refusal.Conflict($"“{other.Info.Title}” runs until {other.EndsAt:HH:mm:ss} UTC; start another one when it has ended.");
            }

            _running = running;
        }

        OpsResult<RunningScenario> audited;
        try
        {
            audited = await transactions.RunAsync<RunningScenario>(async tx =>
            {
                await tx.AuditAsync(StartedAuditAction, null, actor, new { scenario = info.Key, durationSeconds = duration.TotalSeconds, endsAt = running.EndsAt });
                return running;
            }, cancellationToken);
        }
        catch
        {
            Clear(running);
            throw;
        }

        var stopping = CancellationTokenSource.CreateLinkedTokenSource(_hostStopping);
        // The rush and the storm end when this fires; the slow checkout ends by itself when its hold does (this is a
        // safety net past the queued buyers' patience).
        stopping.CancelAfter(info.Scenario == DemoScenario.SlowCheckout ? duration + TimeSpan.FromMinutes(1) : duration);
        lock (_gate)
        {
            _runStopping = stopping;
            _run = Task.Run(() => RunAsync(running, stopping.Token), CancellationToken.None);
        }

        LogStarted(info.Key, actor.AuditName, duration.TotalSeconds);
        Changed?.Invoke();
        return audited;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _hostStopping = stoppingToken;
        await Task.Delay(Timeout.Infinite, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        CancellationTokenSource? stopping;
        Task run;
        lock (_gate)
        {
            (stopping, run) = (_runStopping, _run);
        }

        try
        {
            if (stopping is not null)
            {
                await stopping.CancelAsync();
            }
        }
        catch (ObjectDisposedException)
        {
            // It ended meanwhile.
        }

        await run.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task RunAsync(RunningScenario running, CancellationToken cancellationToken)
    {
        try
        {
            switch (running.Info.Scenario)
            {
                case DemoScenario.HotLeadRush:
                    await RushAsync(cancellationToken);
                    break;
                case DemoScenario.SlowCheckout:
                    await SlowCheckoutAsync(running.EndsAt - time.GetUtcNow(), cancellationToken);
                    break;
                case DemoScenario.WebhookStorm:
                    // The card payments read IsActive and deliver each event four times meanwhile.
                    await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellationToken);
                    break;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception error)
        {
            LogFailed(running.Info.Key, error.Message);
        }
        finally
        {
            CancellationTokenSource? stopping;
            lock (_gate)
            {
                stopping = ReferenceEquals(_running, running) ? _runStopping : null;
            }

            Clear(running);
            stopping?.Dispose();
            LogEnded(running.Info.Key);
            Changed?.Invoke();
        }
    }

    // Bursts: six buyers at once, each for the first hot lead and some of the others, until the scenario ends.
    private async Task RushAsync(CancellationToken cancellationToken)
    {
        var random = new Random();
        while (!cancellationToken.IsCancellationRequested)
        {
            var hot = pool.TakeLeads(options.Value.HotLeads, Guid.Empty);
            var sellers = hot.Select(l => l.SellerId).ToHashSet();
            var buyers = (await market.GetBuyerBalancesAsync(cancellationToken))
                .Where(b => b.Balance >= DemoTrafficService.MinBuyerBalance && !sellers.Contains(b.Id))
                .OrderBy(_ => random.Next())
                .Take(RushBuyers)
                .ToList();
            if (hot.Count == 0 || buyers.Count < 2)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken);
                continue;
            }

            await Task.WhenAll(buyers.Select(async buyer =>
            {
                IReadOnlyList<Guid> wanted = [hot[0].Id, .. hot.Skip(1).Where(_ => random.Next(2) == 0).Select(l => l.Id)];
                try
                {
                    var result = await purchases.PurchaseWithCreditsAsync(buyer.Id, wanted, Actor, cancellationToken);
                    stats.Record(result.Outcome);
                }
                catch (Exception error) when (DemoTrafficService.IsDatabaseTrouble(error) && !cancellationToken.IsCancellationRequested)
                {
                    stats.RecordError();
                }
            }));
            await Task.Delay(BetweenBursts, time, cancellationToken);
        }
    }

    // One checkout holding its lead for the rest of the scenario, unless an engineer cancels or terminates it first.
    private async Task SlowCheckoutAsync(TimeSpan hold, CancellationToken cancellationToken)
    {
        SlowCheckoutPlan? plan;
        while ((plan = await slowCheckout.PlanAsync(pool, hold, cancellationToken)) is null)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken);
        }

        var outcome = await slowCheckout.RunAsync(plan, cancellationToken);
        slowCheckout.LogRun(plan.Lead, outcome.SlowCheckout, outcome.QueuedPurchases.Count(p => p is not null));
    }

    private void Clear(RunningScenario running)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_running, running))
            {
                _running = null;
                _runStopping = null;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo scenario {Scenario} started by {Actor} for {Seconds} s")]
    private partial void LogStarted(string scenario, string actor, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo scenario {Scenario} ended")]
    private partial void LogEnded(string scenario);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Demo scenario {Scenario} failed: {Error}")]
    private partial void LogFailed(string scenario, string error);
}
