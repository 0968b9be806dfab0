namespace OpsConsole.Components.Shared.Charts;

/// <summary>
/// The colours a chart draws its own text and lines in: ApexCharts paints axes, legend and grid itself, so they do
/// not follow MudBlazor's CSS variables. Text colours keep at least 4.5:1 contrast against the theme's surface.
/// </summary>
public sealed record ChartTheme(string Mode, string ForeColor, string GridColor)
{
    /// <summary>The name of the cascading value (a bool) that says whether the dark theme is on.</summary>
    public const string DarkModeCascade = "DarkMode";

    /// <summary>Dark text on MudBlazor's white surface.</summary>
    public static ChartTheme Light { get; } = new("light", "#373d3f", "#e0e0e0");

    /// <summary>Light text on MudBlazor's dark surface (#373740) and background (#32333d).</summary>
    public static ChartTheme Dark { get; } = new("dark", "#d4d7de", "#4b4d57");

    public static ChartTheme For(bool darkMode) => darkMode ? Dark : Light;
}
