namespace OpsConsole.Core.Purchases;

/// <summary>Settings of the purchase path (section <c>Purchases</c>).</summary>
public sealed class PurchaseOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Purchases";

    /// <summary>Retries after a lock conflict (55P03) before a conflict is reported. 0 disables retrying.</summary>
    public int MaxConflictRetries { get; set; } = 3;

    /// <summary>
    /// Delay before the first retry; doubles each time, with jitter. A purchase holds its leads for a few
    /// milliseconds, so short delays find them free again while the buyer is still waiting.
    /// </summary>
    public TimeSpan ConflictRetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Upper bound of one retry delay.</summary>
    public TimeSpan ConflictRetryMaxDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long a reservation holds its leads. Null keeps the database's setting
    /// (<c>marketplace.reservation_ttl</c>, 15 minutes by default).
    /// </summary>
    public TimeSpan? ReservationTtl { get; set; }
}
