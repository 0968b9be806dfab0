using OpsConsole.Core.Demo;
using OpsConsole.Core.Locks;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Stripe;

namespace OpsConsole.Core.Overview;

/// <summary>What the overview shows, one shared value for every viewer; a part is null until first read.</summary>
public sealed record OverviewSnapshot
{
    /// <summary>Nothing read yet.</summary>
    public static OverviewSnapshot Empty { get; } = new();

    /// <summary>The KPIs of the overview's short window and the integrity checks, from the metrics sampler.</summary>
    public OverviewKpis? Kpis { get; init; }

    /// <summary>Why the KPIs could not be read, or null.</summary>
    public string? KpisError { get; init; }

    /// <summary>Lock waits, from the lock sampler.</summary>
    public OverviewLocks? Locks { get; init; }

    /// <summary>Why the lock view could not be read, or null.</summary>
    public string? LocksError { get; init; }

    /// <summary>Open (INCOMPLETE) deployment runs.</summary>
    public IReadOnlyList<OverviewRun>? Runs { get; init; }

    /// <summary>Drifted balances and adjustments waiting for approval.</summary>
    public OverviewCredits? Credits { get; init; }

    /// <summary>Refund queue and the last expiry sweep.</summary>
    public OverviewStripe? Stripe { get; init; }

    /// <summary>Why a database read of runs, credits or Stripe failed, or null.</summary>
    public string? ReadError { get; init; }

    /// <summary>Demo traffic and scenarios.</summary>
    public OverviewDemo Demo { get; init; } = new(false, null, false, null);
}

/// <summary>The KPI card's readings over <paramref name="Window"/>, and the checks that must read 0.</summary>
public sealed record OverviewKpis(MetricsWindow Window, IReadOnlyList<KpiReading> Readings, IntegrityReport Integrity, DateTimeOffset ComputedAt);

/// <summary>Sessions waiting on locks, the longest wait, and the session at the root of that wait's tree.</summary>
/// <param name="Waiting">Sessions waiting for a lock.</param>
/// <param name="LongestWait">The longest current wait.</param>
/// <param name="Level">That wait against the lock view's thresholds.</param>
/// <param name="RootPid">The session the longest waiter ultimately waits for (blocks, waits for nobody), or null.</param>
/// <param name="RootApplication">Its application_name.</param>
/// <param name="Row">The row the longest waiter waits on, in words, when named.</param>
/// <param name="TimedOut">Set when the lock view timed out: not a quiet database.</param>
public sealed record OverviewLocks(int Waiting, TimeSpan LongestWait, WaitLevel Level, int? RootPid, string? RootApplication, string? Row, string? TimedOut);

/// <summary>An open deployment run: progress and what blocks its approval.</summary>
/// <param name="Id">The run.</param>
/// <param name="Title">Its title.</param>
/// <param name="ItemsDone">Items checked or N/A.</param>
/// <param name="ItemsTotal">Items.</param>
/// <param name="ProbesPassing">Checks passing on their latest run.</param>
/// <param name="ProbesTotal">Checks.</param>
/// <param name="Blockers">What stands between the run and approval (empty: it can be approved).</param>
/// <param name="FailingCheck">The first check whose latest run failed, or null.</param>
public sealed record OverviewRun(
    long Id, string Title, int ItemsDone, int ItemsTotal, int ProbesPassing, int ProbesTotal, IReadOnlyList<string> Blockers, OverviewCheck? FailingCheck);

/// <summary>A check of a run, by its probe key.</summary>
public sealed record OverviewCheck(string Key, string Title, string Message);

/// <summary>A drifted balance.</summary>
public sealed record OverviewDrift(Guid WorkspaceId, string WorkspaceName, decimal Discrepancy);

/// <summary>An adjustment waiting for a second person.</summary>
public sealed record OverviewApproval(long Id, Guid WorkspaceId, string WorkspaceName, string Deltas, string MakerName);

/// <summary>Drifted balances and adjustments waiting for approval.</summary>
public sealed record OverviewCredits(IReadOnlyList<OverviewDrift> Drift, IReadOnlyList<OverviewApproval> Approvals);

/// <summary>The refund queue (not yet refunded) and the expiry sweep.</summary>
/// <param name="RefundsWaiting">Purchases waiting for a refund.</param>
/// <param name="RefundsTotal">What they paid.</param>
/// <param name="OldestWaiting">When the oldest of them was flagged.</param>
/// <param name="LastSweep">The latest expiry sweep, or null when none ran.</param>
/// <param name="ExpiredLastHour">Purchases expired by sweeps in the last hour.</param>
/// <param name="SweepInterval">How often a sweep should run.</param>
public sealed record OverviewStripe(int RefundsWaiting, decimal RefundsTotal, DateTimeOffset? OldestWaiting, ExpirySweep? LastSweep, int ExpiredLastHour, TimeSpan SweepInterval);

/// <summary>The demo: its traffic and its scenarios.</summary>
/// <param name="TrafficRunning">Demo traffic runs here.</param>
/// <param name="Traffic">Its counts.</param>
/// <param name="ScenariosAvailable">Scenarios can be started here (the demo is on).</param>
/// <param name="Scenario">The scenario running now.</param>
public sealed record OverviewDemo(bool TrafficRunning, DemoTrafficSnapshot? Traffic, bool ScenariosAvailable, RunningScenario? Scenario);
