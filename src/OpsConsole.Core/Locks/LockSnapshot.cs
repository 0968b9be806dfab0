namespace OpsConsole.Core.Locks;

/// <summary>How long a wait has lasted against <see cref="LockOptions.WaitWarn"/> and <see cref="LockOptions.WaitAlert"/>.</summary>
public enum WaitLevel
{
    /// <summary>Not waiting, or shorter than the warning threshold.</summary>
    Ok,

    /// <summary>At least <see cref="LockOptions.WaitWarn"/>.</summary>
    Warn,

    /// <summary>At least <see cref="LockOptions.WaitAlert"/>.</summary>
    Alert,
}

/// <summary>A backend of the marketplace's database, from <c>pg_stat_activity</c>.</summary>
/// <param name="Pid">Process id.</param>
/// <param name="BackendStart">When the backend started: with the pid, what names this session and no later one.</param>
/// <param name="User">Database user.</param>
/// <param name="Application">application_name.</param>
/// <param name="ClientAddress">Client address, null for a Unix socket.</param>
/// <param name="State">active, idle in transaction...</param>
/// <param name="WaitEventType">Lock, LWLock, IO... or null.</param>
/// <param name="WaitEvent">The wait event, or null.</param>
/// <param name="TransactionStart">When its transaction began, or null.</param>
/// <param name="QueryStart">When its current (or last) query began.</param>
/// <param name="Query">The full query text.</param>
/// <param name="BlockedBy">pg_blocking_pids(): the sessions it waits for (holders, or waiters queued ahead of it).</param>
public sealed record LockSession(
    int Pid,
    DateTimeOffset BackendStart,
    string? User,
    string? Application,
    string? ClientAddress,
    string? State,
    string? WaitEventType,
    string? WaitEvent,
    DateTimeOffset? TransactionStart,
    DateTimeOffset? QueryStart,
    string? Query,
    IReadOnlyList<int> BlockedBy)
{
    /// <summary>True while it waits for a heavyweight lock.</summary>
    public bool IsWaiting => BlockedBy.Count > 0 || WaitEventType == "Lock";

    /// <summary>The query on one line, cut to <paramref name="length"/> characters.</summary>
    public string ShortQuery(int length = 120)
    {
        var flat = string.Join(' ', (Query ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return flat.Length <= length ? flat : flat[..(length - 1)] + "…";
    }
}

/// <summary>One row of <c>pg_locks</c> of a session of the marketplace's database.</summary>
/// <param name="Pid">The session holding or awaiting it.</param>
/// <param name="LockType">relation, tuple, transactionid, virtualxid, advisory...</param>
/// <param name="Mode">AccessShareLock, RowExclusiveLock, ShareLock...</param>
/// <param name="Granted">Held (true) or awaited (false).</param>
/// <param name="Relation">Relation name, for relation, page and tuple locks.</param>
/// <param name="RelationId">Relation oid.</param>
/// <param name="Page">Page of a page or tuple lock.</param>
/// <param name="Tuple">Tuple of a tuple lock.</param>
/// <param name="TransactionId">Transaction id of a transactionid lock.</param>
/// <param name="VirtualXid">Virtual transaction id of a virtualxid lock.</param>
/// <param name="ObjectId">objid of an object or advisory lock.</param>
/// <param name="WaitStart">When the wait began (pg_locks.waitstart), for an awaited lock.</param>
public sealed record LockRow(
    int Pid,
    string LockType,
    string Mode,
    bool Granted,
    string? Relation,
    uint? RelationId,
    int? Page,
    int? Tuple,
    string? TransactionId,
    string? VirtualXid,
    long? ObjectId,
    DateTimeOffset? WaitStart)
{
    /// <summary>What the lock is on, in words: "leads (3,7)", "transaction 812", "relation leads".</summary>
    public string Target => LockType switch
    {
        "relation" => $"relation {Relation}",
        "tuple" => $"{Relation} row ({Page},{Tuple})",
        "page" => $"{Relation} page {Page}",
        "transactionid" => $"transaction {TransactionId}",
        "virtualxid" => $"virtual transaction {VirtualXid}",
        "advisory" => $"advisory {ObjectId}",
        _ => LockType + (Relation is null ? "" : $" on {Relation}"),
    };

    /// <summary>True when <paramref name="other"/> is on the same lockable thing.</summary>
    public bool SameTarget(LockRow other) =>
        LockType == other.LockType && RelationId == other.RelationId && Page == other.Page && Tuple == other.Tuple
        && TransactionId == other.TransactionId && VirtualXid == other.VirtualXid && ObjectId == other.ObjectId;
}

/// <summary>The row a waiting session contends for, and what it is in the marketplace's words.</summary>
/// <param name="Relation">Table name.</param>
/// <param name="Page">Page of the row's version.</param>
/// <param name="Tuple">Tuple of the row's version.</param>
/// <param name="Kind"><c>lead</c>, <c>workspace</c> or <c>purchase</c>; null when unresolved or another table.</param>
/// <param name="RowId">The lead, workspace or purchase id.</param>
/// <param name="OwnerId">The lead's seller, the workspace itself, the purchase's buyer.</param>
/// <param name="OwnerName">That workspace's name.</param>
/// <param name="Unresolved">Why the row could not be named (its table could not be read within lock_timeout), or null.</param>
public sealed record ContendedRow(
    string? Relation, int Page, int Tuple, string? Kind = null, Guid? RowId = null, Guid? OwnerId = null, string? OwnerName = null,
    string? Unresolved = null)
{
    /// <summary>Whether this row is in one of the three tables the view names rows of.</summary>
    public static bool IsMarketplaceTable(string? relation) =>
        relation is "leads" or "workspace_credits" or "marketplace_purchases"
            or "public.leads" or "public.workspace_credits" or "public.marketplace_purchases";

    /// <summary>The row in words: "lead 1b2c… of seller Acme", or where it is when unresolved.</summary>
    public string Describe() => Kind switch
    {
        "lead" => $"lead {RowId} (seller {OwnerName ?? OwnerId?.ToString()})",
        "workspace" => $"credits of workspace {RowId} ({OwnerName})",
        "purchase" => $"purchase {RowId} (buyer {OwnerName ?? OwnerId?.ToString()})",
        _ when Unresolved is not null => $"{Relation} row ({Page},{Tuple}) not resolved: {Unresolved}",
        _ => $"{Relation} row ({Page},{Tuple})",
    };
}

/// <summary>What the console's own database role may do, and the GRANT that is missing when it may not.</summary>
/// <param name="Role">current_user of the console's sessions.</param>
/// <param name="IsSuperuser">A superuser may do everything.</param>
/// <param name="CanReadAllSessions">pg_read_all_stats (part of pg_monitor): other users' queries are visible.</param>
/// <param name="CanSignal">pg_signal_backend: may cancel and terminate other users' sessions.</param>
public sealed record LockPrivileges(string Role, bool IsSuperuser, bool CanReadAllSessions, bool CanSignal)
{
    /// <summary>The GRANTs a database administrator should run, empty when nothing is missing.</summary>
    public IReadOnlyList<string> MissingGrants =>
    [
        .. CanReadAllSessions ? [] : new[] { $"GRANT pg_monitor TO {QuoteIdent(Role)};" },
        .. CanSignal ? [] : new[] { $"GRANT pg_signal_backend TO {QuoteIdent(Role)};" },
    ];

    internal static string QuoteIdent(string name) =>
        name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_') && name.Length > 0 && !char.IsAsciiDigit(name[0])
            ? name
            : "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}

/// <summary>The counts the summary line shows and the history keeps.</summary>
/// <param name="WaitingSessions">Sessions waiting for a lock.</param>
/// <param name="BlockingSessions">Sessions that others wait for.</param>
/// <param name="LongestWait">The longest current wait.</param>
/// <param name="BlockedPurchases">Waiting sessions that are purchases (a purchase function, or a row of the marketplace's tables).</param>
public sealed record LockSummary(int WaitingSessions, int BlockingSessions, TimeSpan LongestWait, int BlockedPurchases);

/// <summary>
/// One look at the marketplace database's locks: sessions, their locks, the blocking tree and the contended rows.
/// When the monitor's own query timed out, <see cref="TimedOut"/> says so and nothing else is filled: a timeout is
/// never shown as a quiet database.
/// </summary>
public sealed record LockSnapshot
{
    /// <summary>When the snapshot was taken (database clock).</summary>
    public required DateTimeOffset TakenAt { get; init; }

    /// <summary>Set when the snapshot itself timed out: the message says which timeout.</summary>
    public string? TimedOut { get; init; }

    /// <summary>The sessions of the marketplace's database, except the monitor's own.</summary>
    public IReadOnlyList<LockSession> Sessions { get; init; } = [];

    /// <summary>Their pg_locks rows.</summary>
    public IReadOnlyList<LockRow> Locks { get; init; } = [];

    /// <summary>Contended rows by waiting pid.</summary>
    public IReadOnlyDictionary<int, ContendedRow> Rows { get; init; } = new Dictionary<int, ContendedRow>();

    /// <summary>What the console's role may read and signal.</summary>
    public LockPrivileges? Privileges { get; init; }

    /// <summary>pg_stat_database.deadlocks of the marketplace's database (a counter).</summary>
    public long DeadlocksTotal { get; init; }

    /// <summary>The blocking tree.</summary>
    public BlockingForest Tree { get; init; } = BlockingForest.Empty;

    /// <summary>The counts of the summary line.</summary>
    public LockSummary Summary { get; init; } = new(0, 0, TimeSpan.Zero, 0);

    /// <summary>Sessions by pid.</summary>
    public IReadOnlyDictionary<int, LockSession> ByPid => _byPid ??= Sessions.ToDictionary(s => s.Pid);

    /// <summary>The lock a session awaits, or null.</summary>
    public LockRow? AwaitedLock(int pid) => Locks.FirstOrDefault(l => l.Pid == pid && !l.Granted);

    /// <summary>How long a session has waited at <paramref name="now"/>, or null when it does not wait.</summary>
    public TimeSpan? WaitedAt(int pid, DateTimeOffset now) =>
        AwaitedLock(pid)?.WaitStart is { } start ? (now > start ? now - start : TimeSpan.Zero) : null;

    /// <summary>The sessions <paramref name="pid"/> blocks, directly.</summary>
    public IReadOnlyList<LockSession> BlockedBy(int pid) => [.. Sessions.Where(s => s.BlockedBy.Contains(pid))];

    private IReadOnlyDictionary<int, LockSession>? _byPid;
}
