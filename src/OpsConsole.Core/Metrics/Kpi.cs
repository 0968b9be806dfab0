namespace OpsConsole.Core.Metrics;

/// <summary>The KPIs of the deployment guide's post-deployment monitoring.</summary>
public enum Kpi
{
    /// <summary>Purchases completed over purchases created in the window, in percent.</summary>
    SuccessRate,

    /// <summary>Reported conflicts over attempts (purchases created + reported conflicts), in percent.</summary>
    ConflictRate,

    /// <summary>Average measured duration of completed credit purchases, in milliseconds.</summary>
    PurchaseTime,

    /// <summary>Repeat deliveries over all deliveries of Stripe webhook events, in percent.</summary>
    WebhookDuplicateRate,
}

/// <summary>Which way a KPI improves.</summary>
public enum KpiDirection
{
    /// <summary>More is better (success rate).</summary>
    HigherIsBetter,

    /// <summary>Less is better (conflicts, time, duplicates).</summary>
    LowerIsBetter,
}

/// <summary>What a KPI's value says.</summary>
public enum KpiState
{
    /// <summary>Nothing to compute it from in the window (for example no purchase): neither good nor bad.</summary>
    NoData,

    /// <summary>Better than the target.</summary>
    Ok,

    /// <summary>Between target and alert threshold, or past the alert threshold for less than the pending period.</summary>
    Warn,

    /// <summary>Past the alert threshold for the whole pending period.</summary>
    Alert,
}

/// <summary>One KPI with its thresholds and the words the console and the Prometheus endpoint use for it.</summary>
/// <param name="Kpi">Which KPI.</param>
/// <param name="Name">Name shown on its card.</param>
/// <param name="Unit">Unit of <see cref="Target"/>, <see cref="Alert"/> and the value: <c>%</c> or <c>ms</c>.</param>
/// <param name="Direction">Which way it improves.</param>
/// <param name="Target">A value strictly better than this is OK.</param>
/// <param name="Alert">A value strictly worse than this is ALERT (after the pending period).</param>
/// <param name="Definition">How it is computed, in one sentence, shown on its card.</param>
public sealed record KpiDefinition(Kpi Kpi, string Name, string Unit, KpiDirection Direction, double Target, double Alert, string Definition)
{
    /// <summary>The KPIs with the thresholds of <paramref name="options"/>.</summary>
    public static IReadOnlyList<KpiDefinition> From(MetricsOptions options) =>
    [
        new(Kpi.SuccessRate, "Purchase success rate", "%", KpiDirection.HigherIsBetter,
            options.SuccessRate.Target, options.SuccessRate.Alert,
            "Purchases completed / purchases created in the window (pending checkouts count as not completed)."),
        new(Kpi.ConflictRate, "Purchase conflict rate", "%", KpiDirection.LowerIsBetter,
            options.ConflictRate.Target, options.ConflictRate.Alert,
            "Reported conflicts (purchase_conflict audit rows) / attempts, where attempts = purchases created + reported conflicts."),
        new(Kpi.PurchaseTime, "Credit purchase time", "ms", KpiDirection.LowerIsBetter,
            options.PurchaseTime.Target, options.PurchaseTime.Alert,
            "Average duration the purchase service measured (retries included) for completed credit purchases."),
        new(Kpi.WebhookDuplicateRate, "Webhook duplicate rate", "%", KpiDirection.LowerIsBetter,
            options.WebhookDuplicateRate.Target, options.WebhookDuplicateRate.Alert,
            "Repeat deliveries / all deliveries of Stripe events last received in the window: sum(deliveries - 1) / sum(deliveries)."),
    ];

    /// <summary>The state of one value, before any pending period: OK, WARN, ALERT, or NO DATA for no value.</summary>
    public KpiState Classify(double? value)
    {
        if (value is not { } v || double.IsNaN(v))
        {
            return KpiState.NoData;
        }

        return Direction == KpiDirection.HigherIsBetter
            ? v > Target ? KpiState.Ok : v < Alert ? KpiState.Alert : KpiState.Warn
            : v < Target ? KpiState.Ok : v > Alert ? KpiState.Alert : KpiState.Warn;
    }

    /// <summary>The comparison a person reads for the target, e.g. <c>&gt; 99.5 %</c>.</summary>
    public string TargetText => $"{(Direction == KpiDirection.HigherIsBetter ? ">" : "<")} {Format(Target)} {Unit}";

    /// <summary>The comparison a person reads for the alert, e.g. <c>&lt; 98 %</c>.</summary>
    public string AlertText => $"{(Direction == KpiDirection.HigherIsBetter ? "<" : ">")} {Format(Alert)} {Unit}";

    private static string Format(double value) => value.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
}
