using System.Globalization;

namespace OpsConsole.Core.Locks;

/// <summary>One row of the raw lock grid: a pg_locks row with its session.</summary>
public sealed record LockGridRow(
    int Pid, bool Granted, string Mode, string LockType, string Target, string? Relation, double? WaitSeconds,
    string? Application, string? User, string? State, string Query, string? FullQuery)
{
    /// <summary>The row of <paramref name="lockRow"/> in <paramref name="view"/>.</summary>
    public static LockGridRow From(LockRow lockRow, LockSnapshot view)
    {
        var session = view.ByPid.GetValueOrDefault(lockRow.Pid);
        return new LockGridRow(
            lockRow.Pid, lockRow.Granted, lockRow.Mode, lockRow.LockType, lockRow.Target, lockRow.Relation,
            lockRow.WaitStart is { } start ? Math.Max(0, (view.TakenAt - start).TotalSeconds) : null,
            session?.Application, session?.User, session?.State, session?.ShortQuery(80) ?? "", session?.Query);
    }
}

/// <summary>A column of the raw lock grid: its title, its cell text and the value it sorts by.</summary>
public sealed class LockGridColumn(string key, string title, Func<LockGridRow, IComparable?> sortKey, Func<LockGridRow, string> text)
{
    /// <summary>The column's name in <see cref="LockGridQuery.ToggleSort"/> and the page's test ids.</summary>
    public string Key { get; } = key;

    /// <summary>The heading.</summary>
    public string Title { get; } = title;

    /// <summary>What the column sorts <paramref name="row"/> by.</summary>
    public IComparable? SortKey(LockGridRow row) => sortKey(row);

    /// <summary>The cell of <paramref name="row"/>.</summary>
    public string Text(LockGridRow row) => text(row);

    /// <summary>The grid's columns, in order.</summary>
    public static IReadOnlyList<LockGridColumn> All { get; } =
    [
        new("pid", "Pid", r => r.Pid, r => r.Pid.ToString(CultureInfo.InvariantCulture)),
        new("granted", "Granted", r => r.Granted, r => r.Granted ? "True" : "False"),
        new("mode", "Mode", r => r.Mode, r => r.Mode),
        new("type", "Type", r => r.LockType, r => r.LockType),
        new("on", "On", r => r.Target, r => r.Target),
        new("waiting", "Waiting (s)", r => r.WaitSeconds, r => r.WaitSeconds?.ToString("0.0", CultureInfo.InvariantCulture) ?? ""),
        new("application", "Application", r => r.Application, r => r.Application ?? ""),
        new("user", "User", r => r.User, r => r.User ?? ""),
        new("state", "State", r => r.State, r => r.State ?? ""),
        new("query", "Query", r => r.Query, r => r.Query),
    ];
}

/// <summary>Which locks the raw lock grid shows: granted or not.</summary>
public enum LockGrantedFilter
{
    /// <summary>Every lock.</summary>
    All,

    /// <summary>Locks waited for (not granted).</summary>
    Awaited,

    /// <summary>Locks held (granted).</summary>
    Held,
}

/// <summary>The way the raw lock grid sorts by one column.</summary>
public enum LockSortDirection
{
    /// <summary>Not sorted by the column.</summary>
    None,

    /// <summary>Smallest first (no value before any).</summary>
    Ascending,

    /// <summary>Largest first.</summary>
    Descending,
}

/// <summary>One page of the raw lock grid: its rows, and where it is among the filtered rows.</summary>
public sealed record LockGridPage(IReadOnlyList<LockGridRow> Rows, int Total, int PageIndex, int PageCount, int First);

/// <summary>
/// The raw lock grid's filters, sort and page, applied to a snapshot's rows: the lock page draws it as a plain table
/// (a MudDataGrid was about 140 components in every open tab: issue 15, memory per open page).
/// </summary>
public sealed class LockGridQuery
{
    /// <summary>Rows a page shows.</summary>
    public const int PageSize = 25;

    /// <summary>Granted locks, awaited ones, or both. Setting a filter goes back to the first page.</summary>
    public LockGrantedFilter Granted
    {
        get;
        set => (field, PageIndex) = (value, 0);
    } = LockGrantedFilter.All;

    /// <summary>Part of the lock mode, any case.</summary>
    public string? Mode
    {
        get;
        set => (field, PageIndex) = (value, 0);
    }

    /// <summary>Part of the relation's name, any case.</summary>
    public string? Relation
    {
        get;
        set => (field, PageIndex) = (value, 0);
    }

    /// <summary>A backend's pid, exactly.</summary>
    public string? Pid
    {
        get;
        set => (field, PageIndex) = (value, 0);
    }

    /// <summary>The column sorted by (a <see cref="LockGridColumn.Key"/>), or none.</summary>
    public string? SortColumn { get; private set; }

    /// <summary>The direction of <see cref="SortColumn"/>.</summary>
    public LockSortDirection SortDirection { get; private set; }

    /// <summary>The page shown, from 0; past the last page, the last page is shown.</summary>
    public int PageIndex { get; set; }

    /// <summary>The direction <paramref name="column"/> is sorted in now.</summary>
    public LockSortDirection DirectionOf(string column) => column == SortColumn ? SortDirection : LockSortDirection.None;

    /// <summary>A click on a column's heading: ascending, then descending, then unsorted; another column starts ascending.</summary>
    public void ToggleSort(string column)
    {
        var next = DirectionOf(column) switch
        {
            LockSortDirection.None => LockSortDirection.Ascending,
            LockSortDirection.Ascending => LockSortDirection.Descending,
            _ => LockSortDirection.None,
        };
        SortColumn = next == LockSortDirection.None ? null : column;
        SortDirection = next;
        PageIndex = 0;
    }

    /// <summary>Every row that passes the filters, sorted (what the CSV export writes).</summary>
    public IReadOnlyList<LockGridRow> Filtered(IEnumerable<LockGridRow> rows)
    {
        var pid = Pid?.Trim();
        var filtered = rows.Where(r =>
            (Granted == LockGrantedFilter.All || r.Granted == (Granted == LockGrantedFilter.Held))
            && Matches(r.Mode, Mode)
            && Matches(r.Relation, Relation)
            && (string.IsNullOrEmpty(pid) || r.Pid.ToString(CultureInfo.InvariantCulture) == pid));
        if (LockGridColumn.All.FirstOrDefault(c => c.Key == SortColumn) is { } column && SortDirection != LockSortDirection.None)
        {
            filtered = SortDirection == LockSortDirection.Ascending
                ? filtered.OrderBy(column.SortKey, Comparer<IComparable?>.Default)
                : filtered.OrderByDescending(column.SortKey, Comparer<IComparable?>.Default);
        }

        return [.. filtered];
    }

    /// <summary>The page of <paramref name="rows"/> shown.</summary>
    public LockGridPage Page(IEnumerable<LockGridRow> rows)
    {
        var filtered = Filtered(rows);
        var pageCount = Math.Max(1, (filtered.Count + PageSize - 1) / PageSize);
        var index = Math.Clamp(PageIndex, 0, pageCount - 1);
        var first = index * PageSize;
        return new LockGridPage([.. filtered.Skip(first).Take(PageSize)], filtered.Count, index, pageCount, first);
    }

    private static bool Matches(string? value, string? filter) =>
        string.IsNullOrWhiteSpace(filter) || (value?.Contains(filter.Trim(), StringComparison.OrdinalIgnoreCase) ?? false);
}
