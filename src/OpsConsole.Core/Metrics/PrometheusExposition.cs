using System.Globalization;
using System.Text;

namespace OpsConsole.Core.Metrics;

/// <summary>
/// A snapshot in the Prometheus text exposition format (version 0.0.4), for teams that watch Grafana. Every
/// sample is a gauge labelled with the window it was computed over; following Prometheus' conventions rates are
/// ratios (0 to 1) and durations are seconds, thresholds included, so a panel can draw them beside the value.
/// A rate with nothing to compute it from (no purchase in the window) is NaN.
/// </summary>
public static class PrometheusExposition
{
    /// <summary>The Content-Type of the format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>The exposition of <paramref name="snapshot"/>.</summary>
    public static string Format(MetricsSnapshot snapshot)
    {
        var r = snapshot.Readings;
        var window = $"window=\"{r.Window.Label}\"";
        var text = new StringBuilder();

        Family(text, "opsconsole_purchase_success_ratio", "Purchases completed / purchases created in the window.",
            (window, Ratio(snapshot[Kpi.SuccessRate].Value)));
        Family(text, "opsconsole_purchase_conflict_ratio",
            "Reported conflicts (purchase_conflict audit rows) / attempts, attempts = purchases created + reported conflicts.",
            (window, Ratio(snapshot[Kpi.ConflictRate].Value)));
        Family(text, "opsconsole_webhook_duplicate_ratio",
            "Repeat deliveries / all deliveries of Stripe events last received in the window: sum(deliveries - 1) / sum(deliveries).",
            (window, Ratio(snapshot[Kpi.WebhookDuplicateRate].Value)));
        Family(text, "opsconsole_credit_purchase_duration_seconds",
            "Duration the purchase service measured for completed credit purchases created in the window.",
            Durations(window, r.CreditPurchaseTime));
        Family(text, "opsconsole_stripe_checkout_duration_seconds",
            "completed_at - created_at of completed Stripe purchases created in the window; includes the customer's time.",
            Durations(window, r.StripeCheckout));

        Family(text, "opsconsole_purchases", "Purchases created in the window, by outcome.",
            ($"{window},outcome=\"created\"", r.Current.Created),
            ($"{window},outcome=\"completed\"", r.Current.Completed),
            ($"{window},outcome=\"failed\"", r.Current.Failed),
            ($"{window},outcome=\"pending\"", r.Current.Pending));
        Family(text, "opsconsole_purchase_conflicts", "Conflicts reported in the window (they create no purchase).",
            (window, r.Current.Conflicts));
        Family(text, "opsconsole_webhook_deliveries", "Deliveries of Stripe events last received in the window.",
            ($"{window},kind=\"all\"", r.Webhooks.Deliveries),
            ($"{window},kind=\"repeat\"", r.Webhooks.Repeats));

        Family(text, "opsconsole_kpi_state", "State shown for the KPI: 0 OK, 1 WARN, 2 ALERT (after the pending period), -1 no data.",
            snapshot.Kpis.Select(k => ($"{window},kpi=\"{Name(k.Definition.Kpi)}\"", (double)StateValue(k.Status.State))).ToArray());
        Family(text, "opsconsole_kpi_target", "Target of the KPI, in the unit of its metric (ratio or seconds).",
            snapshot.Kpis.Select(k => ($"kpi=\"{Name(k.Definition.Kpi)}\"", Scale(k.Definition, k.Definition.Target))).ToArray());
        Family(text, "opsconsole_kpi_alert_threshold", "Alert threshold of the KPI, in the unit of its metric (ratio or seconds).",
            snapshot.Kpis.Select(k => ($"kpi=\"{Name(k.Definition.Kpi)}\"", Scale(k.Definition, k.Definition.Alert))).ToArray());

        Family(text, "opsconsole_double_sold_leads", "Leads sold more than once (must be 0).",
            ("", r.Integrity.DoubleSoldLeads.Count));
        Family(text, "opsconsole_credit_discrepancies", "Credit rows whose balance is not purchased + earned - used, or is negative (must be 0).",
            ("", r.Integrity.CreditDiscrepancies.Count));
        Family(text, "opsconsole_metrics_snapshot_timestamp_seconds", "When the snapshot was computed (Unix time).",
            (window, snapshot.ComputedAt.ToUnixTimeMilliseconds() / 1000.0));
        return text.ToString();
    }

    /// <summary>The KPI's name in labels: <c>purchase_success_rate</c> and so on.</summary>
    public static string Name(Kpi kpi) => kpi switch
    {
        Kpi.SuccessRate => "purchase_success_rate",
        Kpi.ConflictRate => "purchase_conflict_rate",
        Kpi.PurchaseTime => "credit_purchase_time",
        Kpi.WebhookDuplicateRate => "webhook_duplicate_rate",
        _ => throw new ArgumentOutOfRangeException(nameof(kpi), kpi, null),
    };

    private static (string Labels, double Value)[] Durations(string window, DurationSummary durations) =>
    [
        ($"{window},statistic=\"average\"", Seconds(durations.AverageMs)),
        ($"{window},statistic=\"p50\"", Seconds(durations.P50Ms)),
        ($"{window},statistic=\"p95\"", Seconds(durations.P95Ms)),
    ];

    private static void Family(StringBuilder text, string name, string help, params (string Labels, double Value)[] samples)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\", StringComparison.Ordinal)).Append('\n');
        text.Append("# TYPE ").Append(name).Append(" gauge\n");
        foreach (var (labels, value) in samples)
        {
            text.Append(name);
            if (labels.Length > 0)
            {
                text.Append('{').Append(labels).Append('}');
            }

            text.Append(' ').Append(Number(value)).Append('\n');
        }
    }

    private static string Number(double value) =>
        double.IsNaN(value) ? "NaN"
        : double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : value.ToString("R", CultureInfo.InvariantCulture);

    private static double Ratio(double? percent) => percent is { } p ? p / 100 : double.NaN;

    private static double Seconds(double? milliseconds) => milliseconds is { } ms ? ms / 1000 : double.NaN;

    private static double Scale(KpiDefinition definition, double value) => definition.Unit == "ms" ? value / 1000 : value / 100;

    private static int StateValue(KpiState state) => state switch
    {
        KpiState.Ok => 0,
        KpiState.Warn => 1,
        KpiState.Alert => 2,
        _ => -1,
    };
}
