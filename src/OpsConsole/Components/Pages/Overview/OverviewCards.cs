using System.Globalization;
using OpsConsole.Components.Pages.Purchases;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Locks;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Overview;

namespace OpsConsole.Components.Pages.Overview;

/// <summary>How much a card of the overview asks for attention.</summary>
public enum CardState
{
    /// <summary>Nothing to read yet (no purchase in the window, no sweep so far).</summary>
    NoData,

    /// <summary>All well.</summary>
    Ok,

    /// <summary>Something waits for someone, or a KPI is off target (or past its alert threshold, pending).</summary>
    Warn,

    /// <summary>Something is wrong now.</summary>
    Alert,
}

/// <summary>One line of a card: text, optionally a link to the exact place to act, and its state.</summary>
public sealed record CardLine(string Text, string? Href = null, CardState State = CardState.Ok, string? TestId = null, string? Key = null);

/// <summary>A card of the overview.</summary>
/// <param name="Key">kpis, integrity, deployments, locks, credits, refunds, sweep.</param>
/// <param name="Title">Its heading.</param>
/// <param name="State">The worst of its lines.</param>
/// <param name="Summary">One sentence.</param>
/// <param name="Lines">Details with links.</param>
/// <param name="Href">Where the card's area is.</param>
public sealed record OverviewCard(string Key, string Title, CardState State, string Summary, IReadOnlyList<CardLine> Lines, string Href)
{
    /// <summary>True when it asks for attention.</summary>
    public bool NeedsAttention => State is CardState.Warn or CardState.Alert;
}

/// <summary>The overview's cards from one shared snapshot, in the order the viewer's role acts on them.</summary>
public static class OverviewCards
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>The card keys in the order each role reads them: first what that role acts on.</summary>
    public static IReadOnlyList<string> OrderFor(string? role) => OpsRoles.Normalize(role) switch
    {
        OpsRoles.Engineer => ["deployments", "locks", "kpis", "integrity", "credits", "refunds", "sweep"],
        OpsRoles.Support => ["credits", "refunds", "sweep", "integrity", "kpis", "deployments", "locks"],
        _ => ["kpis", "deployments", "credits", "integrity", "locks", "refunds", "sweep"],
    };

    /// <summary>Every card of <paramref name="snapshot"/>, ordered for <paramref name="role"/>.</summary>
    public static IReadOnlyList<OverviewCard> For(OverviewSnapshot snapshot, string? role, DateTimeOffset now)
    {
        var cards = new[]
        {
            Kpis(snapshot), Integrity(snapshot), Deployments(snapshot), Locks(snapshot), Credits(snapshot), Refunds(snapshot), Sweep(snapshot, now),
        }.ToDictionary(c => c.Key);
        return [.. OrderFor(role).Select(k => cards[k])];
    }

    internal static OverviewCard Kpis(OverviewSnapshot snapshot)
    {
        if (snapshot.Kpis is not { } kpis)
        {
            return new("kpis", "KPIs", snapshot.KpisError is null ? CardState.NoData : CardState.Warn,
                snapshot.KpisError ?? "Waiting for the first sample.", [], "/purchases");
        }

        var lines = kpis.Readings.Select(r => new CardLine(
            $"{r.Definition.Name}: {MetricsFormat.Value(r.Definition, r.Value)} {Word(r)} (target {r.Definition.TargetText})",
            "/purchases", Of(r.Status.State), "overview-kpi", PrometheusExposition.Name(r.Definition.Kpi).Replace('_', '-'))).ToList();
        var state = Worst(lines.Select(l => l.State));
        var off = kpis.Readings.Where(r => r.Status.State is KpiState.Warn or KpiState.Alert).Select(r => r.Definition.Name).ToList();
        var summary = off.Count == 0
            ? $"Every KPI on target over the last {kpis.Window.DisplayName}."
            : $"{string.Join(", ", off)} off target over the last {kpis.Window.DisplayName}.";
        if (snapshot.KpisError is { } error)
        {
            lines.Add(new CardLine(error, null, CardState.Warn));
            state = Worst([state, CardState.Warn]);
        }

        return new("kpis", $"KPIs, last {kpis.Window.DisplayName}", state, summary, lines, "/purchases");
    }

    internal static OverviewCard Integrity(OverviewSnapshot snapshot)
    {
        if (snapshot.Kpis is not { } kpis)
        {
            return new("integrity", "Integrity checks", CardState.NoData, "Waiting for the first sample.", [], "/purchases");
        }

        var doubleSold = kpis.Integrity.DoubleSoldLeads.Count;
        var discrepancies = kpis.Integrity.CreditDiscrepancies.Count;
        CardLine[] lines =
        [
            new($"Leads sold twice: {doubleSold}", "/purchases", doubleSold == 0 ? CardState.Ok : CardState.Alert, "integrity-double-sold"),
            new($"Credit discrepancies: {discrepancies}", "/credits", discrepancies == 0 ? CardState.Ok : CardState.Alert, "integrity-credit-discrepancies"),
        ];
        var state = Worst(lines.Select(l => l.State));
        return new("integrity", "Integrity checks", state,
            state == CardState.Ok ? "All checks read 0." : "A check that must read 0 does not.", lines, "/purchases");
    }

    internal static OverviewCard Deployments(OverviewSnapshot snapshot)
    {
        if (snapshot.Runs is not { } runs)
        {
            return new("deployments", "Deployment runs", CardState.NoData, Pending(snapshot), [], "/deployments");
        }

        var lines = new List<CardLine>();
        foreach (var run in runs)
        {
            var progress = $"Run #{run.Id} {run.Title}: {run.ItemsDone}/{run.ItemsTotal} items, {run.ProbesPassing}/{run.ProbesTotal} checks passing";
            if (run.FailingCheck is { } check)
            {
                lines.Add(new CardLine(progress, $"/deployments/{run.Id}", CardState.Alert, "run", run.Id.ToString(Invariant)));
                lines.Add(new CardLine($"Failing check: {check.Title} ({check.Message})",
                    $"/deployments/{run.Id}#check-{check.Key}", CardState.Alert, "run-failing-check", check.Key));
            }
            else if (run.Blockers.Count == 0)
            {
                lines.Add(new CardLine(progress + ": ready for approval", $"/deployments/{run.Id}", CardState.Warn, "run", run.Id.ToString(Invariant)));
            }
            else
            {
                lines.Add(new CardLine(progress, $"/deployments/{run.Id}", CardState.Ok, "run", run.Id.ToString(Invariant)));
            }

            lines.AddRange(run.Blockers.Select(b => new CardLine("Blocks approval: " + b, null, CardState.Ok, "run-blocker")));
        }

        var state = Worst(lines.Select(l => l.State));
        var summary = runs.Count == 0 ? "No deployment run is open."
            : state == CardState.Alert ? "A check of an open run fails."
            : state == CardState.Warn ? "A run waits for approval."
            : $"{Plural(runs.Count, "run")} in progress.";
        return new("deployments", "Deployment runs", state, summary, lines, "/deployments");
    }

    internal static OverviewCard Locks(OverviewSnapshot snapshot)
    {
        if (snapshot.LocksError is { } error)
        {
            return new("locks", "Lock waits", CardState.Warn, error, [], "/locks");
        }

        if (snapshot.Locks is not { } locks)
        {
            return new("locks", "Lock waits", CardState.NoData, "Waiting for the first sample.", [], "/locks");
        }

        if (locks.TimedOut is { } timedOut)
        {
            return new("locks", "Lock waits", CardState.Warn, "The lock view timed out: " + timedOut, [], "/locks");
        }

        if (locks.Waiting == 0)
        {
            return new("locks", "Lock waits", CardState.Ok, "No session waits for a lock.", [], "/locks");
        }

        var state = locks.Level switch { WaitLevel.Alert => CardState.Alert, WaitLevel.Warn => CardState.Warn, _ => CardState.Ok };
        var lines = new List<CardLine>
        {
            new($"Longest wait {Seconds(locks.LongestWait)}" + (locks.Row is null ? "" : $" on {locks.Row}"), null, state, "locks-longest"),
        };
        if (locks.RootPid is { } pid)
        {
            lines.Add(new CardLine($"Blocking session {pid}" + (string.IsNullOrEmpty(locks.RootApplication) ? "" : $" ({locks.RootApplication})"),
                $"/locks?pid={pid.ToString(Invariant)}", state, "locks-blocker", pid.ToString(Invariant)));
        }

        return new("locks", "Lock waits", state, $"{Plural(locks.Waiting, "session")} waiting; the longest for {Seconds(locks.LongestWait)}.", lines, "/locks");
    }

    internal static OverviewCard Credits(OverviewSnapshot snapshot)
    {
        if (snapshot.Credits is not { } credits)
        {
            return new("credits", "Credits", CardState.NoData, Pending(snapshot), [], "/credits");
        }

        var lines = credits.Drift
            .Select(d => new CardLine($"{d.WorkspaceName}: off by {d.Discrepancy.ToString("+0.00;-0.00;0.00", Invariant)}",
                $"/credits?workspace={d.WorkspaceId}", CardState.Alert, "drift-link", d.WorkspaceId.ToString()))
            .Concat(credits.Approvals.Select(a => new CardLine($"#{a.Id} {a.WorkspaceName}: {a.Deltas}, by {a.MakerName}, waits for approval",
                $"/credits?workspace={a.WorkspaceId}", CardState.Warn, "approval-link", a.Id.ToString(Invariant))))
            .ToList();
        var parts = new List<string>();
        if (credits.Drift.Count > 0)
        {
            parts.Add($"{Plural(credits.Drift.Count, "drifted balance")}");
        }

        if (credits.Approvals.Count > 0)
        {
            parts.Add($"{Plural(credits.Approvals.Count, "adjustment")} waiting for approval");
        }

        return new("credits", "Credits", Worst(lines.Select(l => l.State)),
            parts.Count == 0 ? "Every balance follows the formula; nothing waits for approval." : string.Join("; ", parts) + ".", lines, "/credits");
    }

    internal static OverviewCard Refunds(OverviewSnapshot snapshot)
    {
        if (snapshot.Stripe is not { } stripe)
        {
            return new("refunds", "Refund queue", CardState.NoData, Pending(snapshot), [], "/stripe");
        }

        return stripe.RefundsWaiting == 0
            ? new("refunds", "Refund queue", CardState.Ok, "No card payment waits for a refund.", [], "/stripe")
            : new("refunds", "Refund queue", CardState.Warn,
                $"{Plural(stripe.RefundsWaiting, "payment")} ({stripe.RefundsTotal.ToString("0.00", Invariant)}) paid after their leads were sold: refund them.",
                [new CardLine("Open the refund queue", "/stripe", CardState.Warn, "refunds-link")], "/stripe");
    }

    internal static OverviewCard Sweep(OverviewSnapshot snapshot, DateTimeOffset now)
    {
        if (snapshot.Stripe is not { } stripe)
        {
            return new("sweep", "Reservation expiry", CardState.NoData, Pending(snapshot), [], "/stripe");
        }

        if (stripe.LastSweep is not { } sweep)
        {
            return new("sweep", "Reservation expiry", CardState.NoData, "No expiry sweep has run yet.", [], "/stripe");
        }

        var age = now - sweep.FinishedAt;
        var late = age > stripe.SweepInterval * 3;
        var text = $"Last sweep {Seconds(age < TimeSpan.Zero ? TimeSpan.Zero : age)} ago: {Plural(sweep.Expired, "purchase")} expired ({stripe.ExpiredLastHour} in the last hour).";
        return new("sweep", "Reservation expiry", late ? CardState.Warn : CardState.Ok,
            late ? $"{text} It should run every {Seconds(stripe.SweepInterval)}." : text, [], "/stripe");
    }

    private static CardState Of(KpiState state) => state switch
    {
        KpiState.Ok => CardState.Ok,
        KpiState.Warn => CardState.Warn,
        KpiState.Alert => CardState.Alert,
        _ => CardState.NoData,
    };

    private static string Word(KpiReading reading) =>
        reading.Status.AlertPending ? $"ALERT pending ({reading.Status.AlertStreak} of {reading.Status.PendingEvaluations})" : MetricsFormat.Word(reading.Status.State);

    private static CardState Worst(IEnumerable<CardState> states)
    {
        var all = states.ToList();
        return all.Count == 0 ? CardState.Ok
            : all.All(s => s == CardState.NoData) ? CardState.NoData
            : all.Max();
    }

    private static string Pending(OverviewSnapshot snapshot) => snapshot.ReadError ?? "Reading…";

    private static string Plural(int count, string noun) => $"{count} {noun}{(count == 1 ? "" : "s")}";

    private static string Seconds(TimeSpan span) => span.TotalSeconds < 120
        ? $"{(int)span.TotalSeconds} s"
        : $"{(int)span.TotalMinutes} min";
}
