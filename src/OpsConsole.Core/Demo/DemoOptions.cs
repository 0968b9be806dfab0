namespace OpsConsole.Core.Demo;

/// <summary>Configuration section <c>Demo</c>: demo data, demo accounts and demo traffic.</summary>
public sealed class DemoOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string Section = "Demo";

    /// <summary>
    /// Seed demo data, create demo accounts and run demo traffic. Unset means: on for the embedded
    /// local database, off for a configured <c>ConnectionStrings:Marketplace</c>.
    /// </summary>
    public bool? Enabled { get; set; }

    /// <summary>The demo accounts' password; a random one is made (and printed) at each start when unset.</summary>
    public string? Password { get; set; }

    /// <summary>Listed leads the seed creates.</summary>
    public int LeadCount { get; set; } = 3000;

    /// <summary>Concurrent demo buyers.</summary>
    public int Buyers { get; set; } = 4;

    /// <summary>Purchase attempts per second, all buyers together; 0 stops the traffic.</summary>
    public double PurchasesPerSecond { get; set; } = 4;

    /// <summary>
    /// How many of the available leads the buyers choose from. Small on purpose: buyers reach for the
    /// same leads, so conflicts and lock waits happen.
    /// </summary>
    public int HotLeads { get; set; } = 40;

    /// <summary>When fewer leads than this are available, the traffic lists <see cref="LeadCount"/>/3 more.</summary>
    public int RestockBelow { get; set; } = 500;
}
