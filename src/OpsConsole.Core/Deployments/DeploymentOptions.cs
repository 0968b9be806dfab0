namespace OpsConsole.Core.Deployments;

/// <summary>Settings of the deployment checklist (section <c>Deployments</c>).</summary>
public sealed class DeploymentOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Deployments";

    /// <summary>A folder of extra runbooks (<c>*.md</c>), offered beside the built-in ones. Unset: built-in only.</summary>
    public string? RunbookDirectory { get; set; }

    /// <summary>How long one probe may run (<c>statement_timeout</c> of its read-only transaction).</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many rows of a probe's result are kept as evidence (all are counted).</summary>
    public int MaxStoredRows { get; set; } = 100;

    /// <summary>
    /// The most evidence one probe execution keeps, in characters over all kept values: rows past it are counted, not
    /// kept (a check returning megabytes must not make its run page unreadable).
    /// </summary>
    public int MaxStoredChars { get; set; } = 256 * 1024;

    /// <summary>The longest value kept as evidence, in characters; a longer one is cut and says so.</summary>
    public int MaxStoredValueChars { get; set; } = 4096;

    /// <summary>
    /// Whether this instance listens for other instances' changes (PostgreSQL LISTEN). On by default;
    /// tests of the store alone turn it off.
    /// </summary>
    public bool ListenForChanges { get; set; } = true;

    /// <summary>Longest wait between two attempts to reconnect the listener after its connection broke.</summary>
    public TimeSpan ListenerMaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(10);
}
