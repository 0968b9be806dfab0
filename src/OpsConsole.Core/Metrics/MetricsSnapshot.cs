using OpsConsole.Core.Purchases;

namespace OpsConsole.Core.Metrics;

/// <summary>Purchases of one window by outcome, and the conflicts reported in it.</summary>
/// <param name="Created">Purchases created in the window (the success rate's denominator).</param>
/// <param name="Completed">Of those, completed.</param>
/// <param name="Failed">Of those, ended without a sale: <c>failed</c>, <c>expired</c> or <c>refund_required</c>.</param>
/// <param name="Pending">Of those, still pending (a Stripe checkout in progress).</param>
/// <param name="Conflicts">Conflicts the purchase service reported (<c>purchase_conflict</c> audit rows): they create no purchase.</param>
public sealed record PurchaseCounts(long Created, long Completed, long Failed, long Pending, long Conflicts)
{
    /// <summary>Purchase attempts: purchases created plus reported conflicts.</summary>
    public long Attempts => Created + Conflicts;
}

/// <summary>Durations of one kind of purchase in a window, in milliseconds; null when there is none.</summary>
public sealed record DurationSummary(long Count, double? AverageMs, double? P50Ms, double? P95Ms);

/// <summary>Stripe webhook deliveries of the events last received in a window.</summary>
/// <param name="Events">Distinct events.</param>
/// <param name="Deliveries">All deliveries of those events.</param>
/// <param name="Repeats">Deliveries after the first: sum(deliveries - 1).</param>
public sealed record WebhookCounts(long Events, long Deliveries, long Repeats);

/// <summary>One minute of the chart. Minutes without purchases are present with zero counts.</summary>
/// <param name="Minute">Start of the minute (UTC).</param>
/// <param name="Purchases">Purchases created.</param>
/// <param name="Successful">Of those, completed.</param>
/// <param name="Failed">Of those, ended without a sale.</param>
/// <param name="Conflicts">Conflicts reported.</param>
/// <param name="AverageMs">Average credit purchase time; null in a minute without a completed credit purchase (a zero would read as instant).</param>
public sealed record MinutePoint(DateTimeOffset Minute, long Purchases, long Successful, long Failed, long Conflicts, double? AverageMs);

/// <summary>The integrity checks that must read 0, from the contract's invariants 1 and 2.</summary>
/// <param name="DoubleSoldLeads">Leads sold more than once (invariant 1; the guide's query 2 without its 24-hour limit).</param>
/// <param name="CreditDiscrepancies">Credit rows whose balance is not purchased + earned - used, or is negative (invariant 2; the guide's query 3).</param>
public sealed record IntegrityReport(IReadOnlyList<InvariantViolation> DoubleSoldLeads, IReadOnlyList<InvariantViolation> CreditDiscrepancies)
{
    /// <summary>True when both read 0.</summary>
    public bool Holds => DoubleSoldLeads.Count == 0 && CreditDiscrepancies.Count == 0;
}

/// <summary>What one metrics query read for a window and the window before it, before any threshold is applied.</summary>
/// <param name="Window">The window.</param>
/// <param name="To">End of the window (exclusive).</param>
/// <param name="Current">Counts of the window.</param>
/// <param name="Previous">Counts of the window of the same length just before.</param>
/// <param name="CreditPurchaseTime">Measured durations of completed credit purchases created in the window.</param>
/// <param name="PreviousCreditPurchaseTime">The same for the previous window.</param>
/// <param name="StripeCheckout">completed_at - created_at of completed Stripe purchases: includes the customer's time at the checkout.</param>
/// <param name="Webhooks">Webhook deliveries of the window.</param>
/// <param name="PreviousWebhooks">Webhook deliveries of the previous window.</param>
/// <param name="Series">Per-minute points covering the window, oldest first.</param>
/// <param name="Integrity">The checks that must read 0.</param>
public sealed record MetricsReadings(
    MetricsWindow Window,
    DateTimeOffset To,
    PurchaseCounts Current,
    PurchaseCounts Previous,
    DurationSummary CreditPurchaseTime,
    DurationSummary PreviousCreditPurchaseTime,
    DurationSummary StripeCheckout,
    WebhookCounts Webhooks,
    WebhookCounts PreviousWebhooks,
    IReadOnlyList<MinutePoint> Series,
    IntegrityReport Integrity)
{
    /// <summary>Start of the window (inclusive).</summary>
    public DateTimeOffset From => To - Window.Length;

    /// <summary>The value of a KPI in the window, null when there is nothing to compute it from.</summary>
    public double? Value(Kpi kpi) => Compute(kpi, Current, CreditPurchaseTime, Webhooks);

    /// <summary>The value of a KPI in the previous window.</summary>
    public double? PreviousValue(Kpi kpi) => Compute(kpi, Previous, PreviousCreditPurchaseTime, PreviousWebhooks);

    private static double? Compute(Kpi kpi, PurchaseCounts counts, DurationSummary time, WebhookCounts webhooks) => kpi switch
    {
        Kpi.SuccessRate => Percent(counts.Completed, counts.Created),
        Kpi.ConflictRate => Percent(counts.Conflicts, counts.Attempts),
        Kpi.PurchaseTime => time.AverageMs,
        Kpi.WebhookDuplicateRate => Percent(webhooks.Repeats, webhooks.Deliveries),
        _ => throw new ArgumentOutOfRangeException(nameof(kpi), kpi, null),
    };

    private static double? Percent(long part, long whole) => whole == 0 ? null : part * 100.0 / whole;
}

/// <summary>One KPI of a snapshot: its value, the previous window's, and the state shown.</summary>
public sealed record KpiReading(KpiDefinition Definition, double? Value, double? PreviousValue, KpiStatus Status)
{
    /// <summary>Value minus the previous window's value (percentage points or ms); null when either is missing.</summary>
    public double? Change => Value is { } now && PreviousValue is { } before ? now - before : null;
}

/// <summary>What every viewer of a window sees: readings with the KPI states of this evaluation.</summary>
public sealed record MetricsSnapshot(MetricsReadings Readings, IReadOnlyList<KpiReading> Kpis, DateTimeOffset ComputedAt)
{
    /// <summary>The window.</summary>
    public MetricsWindow Window => Readings.Window;

    /// <summary>One KPI.</summary>
    public KpiReading this[Kpi kpi] => Kpis.First(k => k.Definition.Kpi == kpi);

    /// <summary>
    /// Evaluates each KPI of <paramref name="readings"/> against its definition, advancing that KPI's state machine
    /// (one evaluation). <paramref name="machines"/> holds one machine per KPI of <paramref name="definitions"/>.
    /// </summary>
    public static MetricsSnapshot Evaluate(
        MetricsReadings readings, IReadOnlyList<KpiDefinition> definitions, IReadOnlyDictionary<Kpi, KpiStateMachine> machines, DateTimeOffset computedAt)
    {
        var kpis = definitions
            .Select(d =>
            {
                var value = readings.Value(d.Kpi);
                return new KpiReading(d, value, readings.PreviousValue(d.Kpi), machines[d.Kpi].Next(d.Classify(value)));
            })
            .ToList();
        return new MetricsSnapshot(readings, kpis, computedAt);
    }
}
