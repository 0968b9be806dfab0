using System.Globalization;
using MudBlazor;
using OpsConsole.Core.Metrics;

namespace OpsConsole.Components.Pages.Purchases;

/// <summary>How the purchase metrics read on the page: one place for units, words and colours.</summary>
public static class MetricsFormat
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>A KPI value in its unit: <c>98.50 %</c>, <c>412 ms</c>; an em dash without data.</summary>
    public static string Value(KpiDefinition definition, double? value) => value is not { } v
        ? "—"
        : definition.Unit == "ms" ? Milliseconds(v) : v.ToString("0.00", Invariant) + " %";

    /// <summary>A change against the previous window: percentage points for rates, ms for times, with its sign.</summary>
    public static string Change(KpiDefinition definition, double change)
    {
        var sign = change > 0 ? "+" : change < 0 ? "−" : "±";
        var size = Math.Abs(change);
        return definition.Unit == "ms" ? $"{sign}{size.ToString("0", Invariant)} ms" : $"{sign}{size.ToString("0.00", Invariant)} pp";
    }

    /// <summary>True when a change moves the KPI the way it improves.</summary>
    public static bool IsImprovement(KpiDefinition definition, double change) =>
        definition.Direction == KpiDirection.HigherIsBetter ? change > 0 : change < 0;

    /// <summary>A duration: <c>412 ms</c> below ten seconds, else <c>90.0 s</c>; an em dash when missing.</summary>
    public static string Duration(double? milliseconds) => milliseconds is { } ms ? Milliseconds(ms) : "—";

    /// <summary>The word of a state.</summary>
    public static string Word(KpiState state) => state switch
    {
        KpiState.Ok => "OK",
        KpiState.Warn => "WARN",
        KpiState.Alert => "ALERT",
        _ => "NO DATA",
    };

    /// <summary>The colour of a state.</summary>
    public static Color Colour(KpiState state) => state switch
    {
        KpiState.Ok => Color.Success,
        KpiState.Warn => Color.Warning,
        KpiState.Alert => Color.Error,
        _ => Color.Default,
    };

    /// <summary>A count with thousands separators.</summary>
    public static string Count(long count) => count.ToString("#,0", Invariant);

    /// <summary>A count and its noun: <c>1 purchase</c>, <c>1,204 purchases</c>.</summary>
    public static string Count(long count, string one, string many) => $"{Count(count)} {(count == 1 ? one : many)}";

    private static string Milliseconds(double ms) =>
        ms < 10_000 ? ms.ToString("0", Invariant) + " ms" : (ms / 1000).ToString("0.0", Invariant) + " s";
}
