namespace OpsConsole.Core.Credits;

/// <summary>Settings of the credit reconciliation editor (section <c>Credits</c>).</summary>
public sealed class CreditOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Credits";

    /// <summary>
    /// An adjustment whose largest absolute delta is above this waits for a second person with the edit permission
    /// (maker-checker); at or below it, it applies at once.
    /// </summary>
    public decimal ApprovalThreshold { get; set; } = 500m;

    /// <summary>Entries per page of a workspace's history.</summary>
    public int HistoryPageSize { get; set; } = 20;

    /// <summary>
    /// Whether this instance listens for other instances' changes (PostgreSQL LISTEN). On by default; tests of the
    /// service alone turn it off.
    /// </summary>
    public bool ListenForChanges { get; set; } = true;

    /// <summary>Longest wait between two attempts to reconnect the listener after its connection broke.</summary>
    public TimeSpan ListenerMaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(10);
}
