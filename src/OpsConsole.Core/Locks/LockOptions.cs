namespace OpsConsole.Core.Locks;

/// <summary>Settings of the lock views (section <c>Locks</c>).</summary>
public sealed class LockOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Locks";

    /// <summary>
    /// <c>lock_timeout</c> of every monitor query: the monitor never queues behind a lock for longer (a row it cannot
    /// read behind an ACCESS EXCLUSIVE lock is reported as unresolved instead).
    /// </summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary><c>statement_timeout</c> of every monitor query; a snapshot that takes longer is shown as "lock view timed out".</summary>
    public TimeSpan StatementTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A lock wait is WARN from this long.</summary>
    public TimeSpan WaitWarn { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A lock wait is ALERT from this long.</summary>
    public TimeSpan WaitAlert { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often the shared sampler takes a snapshot (per console instance, however many pages are open).</summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the contention history is kept.</summary>
    public TimeSpan HistoryRetention { get; set; } = TimeSpan.FromDays(7);
}
