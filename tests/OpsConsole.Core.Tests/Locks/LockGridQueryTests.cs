using OpsConsole.Core.Locks;

namespace OpsConsole.Core.Tests.Locks;

/// <summary>The raw lock grid's filters, sort and pages (the lock page draws them as a plain table).</summary>
public sealed class LockGridQueryTests
{
    private static LockGridRow Row(int pid, bool granted, string mode, string? relation, double? waited = null) =>
        new(pid, granted, mode, "relation", relation is null ? "transaction 1" : $"relation {relation}", relation, waited,
            "app", "user", "active", "SELECT 1", "SELECT 1");

    private static readonly LockGridRow[] Rows =
    [
        Row(30, true, "RowExclusiveLock", "leads"),
        Row(10, false, "ShareLock", null, 4.5),
        Row(20, true, "AccessShareLock", "purchases"),
        Row(40, false, "RowExclusiveLock", "Leads", 1.0),
    ];

    [Fact]
    public void The_filters_keep_rows_by_granted_mode_relation_any_case_and_exact_pid()
    {
        Assert.Equal([10, 40], new LockGridQuery { Granted = LockGrantedFilter.Awaited }.Filtered(Rows).Select(r => r.Pid));
        Assert.Equal([30, 20], new LockGridQuery { Granted = LockGrantedFilter.Held }.Filtered(Rows).Select(r => r.Pid));
        Assert.Equal([30, 40], new LockGridQuery { Mode = " rowexcl " }.Filtered(Rows).Select(r => r.Pid));
        Assert.Equal([30, 40], new LockGridQuery { Relation = "LEADS" }.Filtered(Rows).Select(r => r.Pid));
        Assert.Equal([40], new LockGridQuery { Relation = "leads", Granted = LockGrantedFilter.Awaited }.Filtered(Rows).Select(r => r.Pid));
        Assert.Equal([20], new LockGridQuery { Pid = " 20 " }.Filtered(Rows).Select(r => r.Pid));
        Assert.Empty(new LockGridQuery { Pid = "2" }.Filtered(Rows));
        Assert.Equal(4, new LockGridQuery().Filtered(Rows).Count);
    }

    [Fact]
    public void A_heading_click_sorts_ascending_then_descending_then_not_and_another_column_starts_ascending()
    {
        var query = new LockGridQuery();

        query.ToggleSort("pid");
        Assert.Equal(LockSortDirection.Ascending, query.DirectionOf("pid"));
        Assert.Equal([10, 20, 30, 40], query.Filtered(Rows).Select(r => r.Pid));
        query.ToggleSort("pid");
        Assert.Equal([40, 30, 20, 10], query.Filtered(Rows).Select(r => r.Pid));
        query.ToggleSort("pid");
        Assert.Equal(LockSortDirection.None, query.DirectionOf("pid"));
        Assert.Equal([30, 10, 20, 40], query.Filtered(Rows).Select(r => r.Pid));

        query.ToggleSort("pid");
        query.ToggleSort("waiting");
        Assert.Equal(LockSortDirection.None, query.DirectionOf("pid"));
        Assert.Equal(LockSortDirection.Ascending, query.DirectionOf("waiting"));
        // Rows with no wait (granted locks) sort first, keeping their order.
        Assert.Equal([30, 20, 40, 10], query.Filtered(Rows).Select(r => r.Pid));
    }

    [Fact]
    public void Pages_hold_25_rows_and_a_page_past_the_end_shows_the_last()
    {
        var rows = Enumerable.Range(1, 60).Select(pid => Row(pid, true, "AccessShareLock", "leads")).ToList();
        var query = new LockGridQuery();

        var first = query.Page(rows);
        Assert.Equal((25, 60, 0, 3, 0), (first.Rows.Count, first.Total, first.PageIndex, first.PageCount, first.First));
        Assert.Equal(1, first.Rows[0].Pid);

        query.PageIndex = 2;
        var last = query.Page(rows);
        Assert.Equal((10, 50), (last.Rows.Count, last.First));
        Assert.Equal(51, last.Rows[0].Pid);

        query.PageIndex = 7;
        Assert.Equal(2, query.Page(rows).PageIndex);

        query.ToggleSort("pid");
        Assert.Equal(0, query.PageIndex);
        var empty = new LockGridQuery { Pid = "999" }.Page(rows);
        Assert.Equal((0, 0, 0, 1), (empty.Rows.Count, empty.Total, empty.PageIndex, empty.PageCount));
    }

    [Fact]
    public void Setting_any_filter_goes_back_to_the_first_page()
    {
        var query = new LockGridQuery();
        Action<LockGridQuery>[] filters =
        [
            q => q.Granted = LockGrantedFilter.Held,
            q => q.Mode = "share",
            q => q.Relation = "leads",
            q => q.Pid = "7",
        ];
        foreach (var set in filters)
        {
            query.PageIndex = 2;
            set(query);
            Assert.Equal(0, query.PageIndex);
        }
    }
}
