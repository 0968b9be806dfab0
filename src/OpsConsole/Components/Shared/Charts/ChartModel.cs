namespace OpsConsole.Components.Shared.Charts;

/// <summary>How a series is drawn.</summary>
public enum ChartSeriesKind
{
    /// <summary>A line through the points.</summary>
    Line,

    /// <summary>A bar per point.</summary>
    Column,

    /// <summary>A filled line.</summary>
    Area,
}

/// <summary>One point of a time series; a null <see cref="Y"/> leaves a gap.</summary>
public readonly record struct ChartPoint(DateTimeOffset X, double? Y);

/// <summary>A named time series drawn against one of the chart's y axes.</summary>
/// <param name="Name">Legend name; unique within a chart.</param>
/// <param name="Points">Points, oldest first.</param>
/// <param name="Kind">How it is drawn.</param>
/// <param name="Axis">Index into the chart's axes.</param>
/// <param name="Color">CSS colour; null for the palette's.</param>
public sealed record ChartSeries(string Name, IReadOnlyList<ChartPoint> Points, ChartSeriesKind Kind = ChartSeriesKind.Line, int Axis = 0, string? Color = null);

/// <summary>A y axis.</summary>
/// <param name="Title">Axis title.</param>
/// <param name="Decimals">Decimals of its labels.</param>
/// <param name="Opposite">Drawn on the right.</param>
/// <param name="Min">Lowest value shown; null to fit the data.</param>
/// <param name="Max">Highest value shown; null to fit the data and every threshold on this axis.</param>
public sealed record ChartAxis(string Title, int Decimals = 0, bool Opposite = false, double? Min = 0, double? Max = null);

/// <summary>
/// A horizontal line at a value of one axis, drawn whatever the data: the axis grows to show it even when no point
/// comes near it.
/// </summary>
/// <param name="Y">Value on the axis.</param>
/// <param name="Label">Text on the line.</param>
/// <param name="Color">CSS colour.</param>
/// <param name="Axis">Index into the chart's axes; the axis needs at least one series.</param>
/// <param name="Dashed">Dashed rather than solid.</param>
public sealed record ChartThreshold(double Y, string Label, string Color, int Axis = 0, bool Dashed = true);
