using System.Diagnostics.CodeAnalysis;

namespace OpsConsole.Core.Metrics;

/// <summary>A time window the metrics are computed over, ending now; compared with the window of the same length just before it.</summary>
public sealed record MetricsWindow
{
    /// <summary>The last 15 minutes.</summary>
    public static readonly MetricsWindow FifteenMinutes = new("15m", "15 min", TimeSpan.FromMinutes(15));

    /// <summary>The last hour.</summary>
    public static readonly MetricsWindow OneHour = new("1h", "1 h", TimeSpan.FromHours(1));

    /// <summary>The last 6 hours.</summary>
    public static readonly MetricsWindow SixHours = new("6h", "6 h", TimeSpan.FromHours(6));

    /// <summary>The last 24 hours.</summary>
    public static readonly MetricsWindow TwentyFourHours = new("24h", "24 h", TimeSpan.FromHours(24));

    /// <summary>The last 7 days (a point per hour on the chart).</summary>
    public static readonly MetricsWindow SevenDays = new("7d", "7 days", TimeSpan.FromDays(7), TimeSpan.FromHours(1));

    private MetricsWindow(string label, string displayName, TimeSpan length, TimeSpan? step = null)
    {
        Label = label;
        DisplayName = displayName;
        Length = length;
        Step = step ?? TimeSpan.FromMinutes(1);
    }

    /// <summary>
    /// The last <paramref name="length"/>, for views that need a short recent window (the overview's "now"), compared
    /// with the same length before it; not offered on the purchases page (<see cref="All"/>). Equal lengths are equal
    /// windows, so every viewer of one length shares the sampler's snapshot and KPI states.
    /// </summary>
    public static MetricsWindow Recent(TimeSpan length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, TimeSpan.FromSeconds(1));
        var (label, name) = length.TotalMinutes >= 1 && length.Seconds == 0 && length.Milliseconds == 0
            ? ($"{(int)length.TotalMinutes}m", $"{(int)length.TotalMinutes} min")
            : ($"{(int)length.TotalSeconds}s", $"{(int)length.TotalSeconds} s");
        return All.FirstOrDefault(w => w.Length == length) ?? new MetricsWindow(label, name, length);
    }

    /// <summary>Every window, shortest first.</summary>
    public static IReadOnlyList<MetricsWindow> All { get; } = [FifteenMinutes, OneHour, SixHours, TwentyFourHours, SevenDays];

    /// <summary>Short name used in settings, URLs and Prometheus labels: <c>15m</c>, <c>1h</c>, <c>6h</c>, <c>24h</c>, <c>7d</c>.</summary>
    public string Label { get; }

    /// <summary>Name shown to people.</summary>
    public string DisplayName { get; }

    /// <summary>Length of the window.</summary>
    public TimeSpan Length { get; }

    /// <summary>Width of one point of the chart: a minute, an hour for 7 days.</summary>
    public TimeSpan Step { get; }

    /// <summary>
    /// Whether the window's percentiles are computed: they need every row of the window, so only up to an hour;
    /// longer windows show counts and averages, read from the per-minute rollup.
    /// </summary>
    public bool HasPercentiles => Length <= TimeSpan.FromHours(1);

    /// <summary>The window with this <see cref="Label"/> (case-insensitive).</summary>
    public static bool TryParse(string? label, [NotNullWhen(true)] out MetricsWindow? window)
    {
        window = All.FirstOrDefault(w => string.Equals(w.Label, label?.Trim(), StringComparison.OrdinalIgnoreCase));
        return window is not null;
    }

    /// <inheritdoc />
    public override string ToString() => Label;
}
