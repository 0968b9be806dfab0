namespace OpsConsole.Core.Metrics;

/// <summary>The state a KPI shows after an evaluation, with what was observed.</summary>
/// <param name="State">What the console shows.</param>
/// <param name="Observed">What this evaluation's value alone says.</param>
/// <param name="AlertStreak">Consecutive evaluations past the alert threshold, this one included.</param>
/// <param name="PendingEvaluations">Evaluations the alert condition must hold before <see cref="State"/> becomes ALERT.</param>
public readonly record struct KpiStatus(KpiState State, KpiState Observed, int AlertStreak, int PendingEvaluations)
{
    /// <summary>Past the alert threshold, but not yet for the whole pending period: shown as WARN.</summary>
    public bool AlertPending => Observed == KpiState.Alert && State != KpiState.Alert;
}

/// <summary>
/// Holds one KPI's state across evaluations, like a Prometheus alert rule's <c>for</c>: ALERT only after the alert
/// condition held for <c>PendingEvaluations</c> evaluations in a row, so a single bad sample does not flap the page.
/// Leaving the condition (or having no data) ends the streak at once. Not thread-safe: one evaluation at a time.
/// </summary>
public sealed class KpiStateMachine
{
    private readonly int _pendingEvaluations;
    private int _alertStreak;

    /// <summary>Creates the machine.</summary>
    /// <param name="pendingEvaluations">1 or more; 1 alerts on the first bad evaluation.</param>
    public KpiStateMachine(int pendingEvaluations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pendingEvaluations, 1);
        _pendingEvaluations = pendingEvaluations;
    }

    /// <summary>Takes one evaluation's observed state and returns what to show.</summary>
    public KpiStatus Next(KpiState observed)
    {
        if (observed != KpiState.Alert)
        {
            _alertStreak = 0;
            return new KpiStatus(observed, observed, 0, _pendingEvaluations);
        }

        _alertStreak = Math.Min(_alertStreak + 1, _pendingEvaluations);
        var shown = _alertStreak >= _pendingEvaluations ? KpiState.Alert : KpiState.Warn;
        return new KpiStatus(shown, observed, _alertStreak, _pendingEvaluations);
    }
}
