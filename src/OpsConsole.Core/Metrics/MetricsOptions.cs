namespace OpsConsole.Core.Metrics;

/// <summary>Settings of the purchase metrics (section <c>Metrics</c>). Thresholds default to the deployment guide's.</summary>
public sealed class MetricsOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Metrics";

    /// <summary>
    /// Name of the optional read-only connection string (a replica). When set, every metrics query reads from it;
    /// nothing else in the console ever does.
    /// </summary>
    public const string ReadOnlyConnectionStringName = "MarketplaceReadOnly";

    /// <summary>How often the shared sampler computes the snapshots its viewers need. Also the shortest refresh a page can have.</summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary><c>statement_timeout</c> of every metrics query: a slow snapshot fails instead of piling up behind the next.</summary>
    public TimeSpan StatementTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How often the per-minute rollup is brought up to date (minutes older than 30 minutes, migration 0026).</summary>
    public TimeSpan RollupInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Consecutive evaluations a KPI must be past its alert threshold before it shows ALERT (1 = at once).</summary>
    public int PendingEvaluations { get; set; } = 2;

    /// <summary>Bearer token <c>GET /metrics</c> requires. Unset or empty: the endpoint is off (404).</summary>
    public string? ScrapeToken { get; set; }

    /// <summary>Window of the KPIs <c>GET /metrics</c> exposes: <c>15m</c>, <c>1h</c>, <c>6h</c> or <c>24h</c>.</summary>
    public string ScrapeWindow { get; set; } = MetricsWindow.FifteenMinutes.Label;

    /// <summary>Completed over created, in percent. Guide: target &gt; 99.5 %, alert &lt; 98 %.</summary>
    public KpiThresholds SuccessRate { get; set; } = new() { Target = 99.5, Alert = 98 };

    /// <summary>Reported conflicts over attempts, in percent. Guide: target &lt; 0.1 %, alert &gt; 1 %.</summary>
    public KpiThresholds ConflictRate { get; set; } = new() { Target = 0.1, Alert = 1 };

    /// <summary>Average time of a credit purchase, in milliseconds. Guide: expected about 450 ms, alert &gt; 1000 ms.</summary>
    public KpiThresholds PurchaseTime { get; set; } = new() { Target = 450, Alert = 1000 };

    /// <summary>Repeat webhook deliveries over all deliveries, in percent. Guide: target &lt; 5 %, alert &gt; 10 %.</summary>
    public KpiThresholds WebhookDuplicateRate { get; set; } = new() { Target = 5, Alert = 10 };
}

/// <summary>Target and alert threshold of one KPI, in the KPI's unit.</summary>
public sealed class KpiThresholds
{
    /// <summary>A value strictly better than this is OK.</summary>
    public double Target { get; set; }

    /// <summary>A value strictly worse than this is ALERT (after the pending period); between the two is WARN.</summary>
    public double Alert { get; set; }
}
