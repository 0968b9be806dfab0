using OpsConsole.Core.Database;
using Npgsql;

namespace OpsConsole.Database;

/// <summary>
/// Whether the database answers, as the pages see it. A background probe (<see cref="DatabaseProbe"/>)
/// checks it every few seconds; pages that catch a database error report it here at once. Components
/// subscribe to <see cref="Changed"/> to show or hide the "database unreachable" banner.
/// </summary>
public sealed class DatabaseStatus(TimeProvider timeProvider)
{
    private readonly Lock _gate = new();

    /// <summary>Optimistic until the first probe says otherwise, so a page does not flash the banner.</summary>
    public bool IsReachable { get; private set; } = true;

    public string? LastError { get; private set; }

    public DateTimeOffset? UnreachableSince { get; private set; }

    /// <summary>Raised on every change between reachable and unreachable, with the new state.</summary>
    public event Action<bool>? Changed;

    /// <summary>Raised when a page reports a failure, so the probe can check again without waiting.</summary>
    internal event Action? FailureReported;

    public void ReportReachable() => Set(true, null);

    public void ReportUnreachable(string error) => Set(false, error);

    /// <summary>For pages: a database error was caught; show the banner until the probe sees it back.</summary>
    public void ReportFailure(Exception exception)
    {
        Set(false, DatabasePing.Describe(exception));
        FailureReported?.Invoke();
    }

    private void Set(bool reachable, string? error)
    {
        lock (_gate)
        {
            LastError = error ?? LastError;
            if (IsReachable == reachable)
            {
                return;
            }

            IsReachable = reachable;
            UnreachableSince = reachable ? null : timeProvider.GetUtcNow();
        }

        Changed?.Invoke(reachable);
    }
}
