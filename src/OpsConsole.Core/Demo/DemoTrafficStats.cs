using System.Collections.Concurrent;
using OpsConsole.Core.Purchases;

namespace OpsConsole.Core.Demo;

/// <summary>Counts of what the demo traffic's purchases came to, for the console's overview.</summary>
public sealed class DemoTrafficStats(TimeProvider timeProvider)
{
    private static readonly TimeSpan NotifyEvery = TimeSpan.FromMilliseconds(500);
    private readonly ConcurrentDictionary<PurchaseOutcome, long> _outcomes = new();
    private long _errors;
    private long _lastNotifiedTicks;

    /// <summary>True while the demo traffic service runs.</summary>
    public bool IsRunning { get; internal set; }

    /// <summary>True while the demo's card payments (the simulated Stripe) run.</summary>
    public bool CardPaymentsRunning { get; internal set; }

    /// <summary>Raised after new results, at most twice a second.</summary>
    public event Action? Changed;

    /// <summary>The counts so far.</summary>
    public DemoTrafficSnapshot Snapshot() => new(
        _outcomes.OrderBy(o => o.Key).Select(o => (o.Key, o.Value)).ToList(),
        Interlocked.Read(ref _errors));

    internal void Record(PurchaseOutcome outcome)
    {
        _outcomes.AddOrUpdate(outcome, 1, (_, count) => count + 1);
        Notify();
    }

    internal void RecordError()
    {
        Interlocked.Increment(ref _errors);
        Notify();
    }

    private void Notify()
    {
        var now = timeProvider.GetTimestamp();
        var last = Interlocked.Read(ref _lastNotifiedTicks);
        if (timeProvider.GetElapsedTime(last, now) < NotifyEvery || Interlocked.CompareExchange(ref _lastNotifiedTicks, now, last) != last)
        {
            return;
        }

        Changed?.Invoke();
    }
}

/// <summary>Purchases per outcome, and attempts that failed on a database error.</summary>
public sealed record DemoTrafficSnapshot(IReadOnlyList<(PurchaseOutcome Outcome, long Count)> Outcomes, long Errors);
