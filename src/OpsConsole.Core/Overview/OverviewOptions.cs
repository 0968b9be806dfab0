namespace OpsConsole.Core.Overview;

/// <summary>Settings of the overview page (section <c>Overview</c>).</summary>
public sealed class OverviewOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Overview";

    /// <summary>
    /// The window of the overview's KPI card: short, so that an incident shows within a couple of samples and clears
    /// within this long after it ends (the purchases page keeps the guide's longer windows).
    /// </summary>
    public TimeSpan KpiWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How often, while someone watches the overview, it re-reads what no sampler or event brings (open deployment
    /// runs, drift, approvals, refunds, the last expiry sweep); credit and deployment changes also trigger a read.
    /// </summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(10);
}
