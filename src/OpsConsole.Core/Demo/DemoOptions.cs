using Microsoft.Extensions.Configuration;

namespace OpsConsole.Core.Demo;

/// <summary>Configuration section <c>Demo</c>: demo data, demo accounts and demo traffic.</summary>
public sealed class DemoOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string Section = "Demo";

    /// <summary>The section bound before the host exists (demo mode is checked before the container is built).</summary>
    public static DemoOptions From(IConfiguration configuration) => configuration.GetSection(Section).Get<DemoOptions>() ?? new();

    /// <summary>
    /// Seed demo data, create demo accounts and run demo traffic. Unset means: on for the embedded
    /// local database, off for a configured <c>ConnectionStrings:Marketplace</c>.
    /// </summary>
    public bool? Enabled { get; set; }

    /// <summary>
    /// Demo mode on a configured (non-embedded) database outside the Development environment is refused unless this
    /// is true: the demo writes workspaces, leads and accounts into whatever database it is pointed at.
    /// </summary>
    public bool AllowOnConfiguredDatabase { get; set; }

    /// <summary>The demo accounts' password; a random one is made (and printed) at each start when unset.</summary>
    public string? Password { get; set; }

    /// <summary>Listed leads the seed creates.</summary>
    public int LeadCount { get; set; } = 3000;

    /// <summary>Concurrent demo buyers.</summary>
    public int Buyers { get; set; } = 4;

    /// <summary>Purchase attempts per second, all buyers together; 0 stops the traffic.</summary>
    public double PurchasesPerSecond { get; set; } = 4;

    /// <summary>
    /// The calm baseline's buyers take distinct leads from a pool of this many available leads (refreshed every 2 s):
    /// no two demo checkouts reach for the same lead, so the calm demo meets the guide's conflict target.
    /// </summary>
    public int LeadPool { get; set; } = 400;

    /// <summary>Card checkouts per second (paid through the simulated Stripe); 0 stops them.</summary>
    public double CardCheckoutsPerSecond { get; set; } = 0.8;

    /// <summary>The leads the "rush on hot leads" scenario's buyers all reach for at once.</summary>
    public int HotLeads { get; set; } = 3;

    /// <summary>How long an incident scenario runs before it ends by itself.</summary>
    public TimeSpan ScenarioDuration { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>When fewer leads than this are available, the traffic lists <see cref="LeadCount"/>/3 more.</summary>
    public int RestockBelow { get; set; } = 500;
}
