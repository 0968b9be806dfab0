using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Locks;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Locks;

/// <summary>The lock snapshot and its blocking tree against real sessions holding real locks.</summary>
public sealed class LockSnapshotTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task A_three_level_chain_is_one_tree_with_the_holder_at_the_root_and_each_row_named()
    {
        var (seller, _, leads) = await LockKit.MarketAsync(database.DataSource);
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var query = services.GetRequiredService<LockSnapshotQuery>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var a = await scene.OpenAsync("chain-a");
        var b = await scene.OpenAsync("chain-b");
        var c = await scene.OpenAsync("chain-c");
        await a.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[0] });
        await b.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[1] });
        b.Start("SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[0] });
        await scene.WaitUntilWaitingAsync(b);
        c.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = leads[1] });
        await scene.WaitUntilWaitingAsync(c);

        var snapshot = await LockKit.SnapshotWhenAsync(query, s => s.Summary.WaitingSessions == 2);

        var tree = Assert.Single(snapshot.Tree.Trees);
        Assert.False(tree.IsCycle);
        Assert.Equal(a.Pid, tree.Root.Pid);
        var second = Assert.Single(tree.Root.Waiters);
        Assert.Equal((b.Pid, BlockingEdge.Holds), (second.Pid, second.Edge));
        var third = Assert.Single(second.Waiters);
        Assert.Equal((c.Pid, BlockingEdge.QueuedBehind), (third.Pid, third.Edge));
        Assert.Empty(third.Waiters);
        Assert.Equal(1, snapshot.Summary.BlockingSessions - 1); // a and b block
        Assert.Equal(("lead", leads[0], seller), (snapshot.Rows[b.Pid].Kind, snapshot.Rows[b.Pid].RowId, snapshot.Rows[b.Pid].OwnerId));
        Assert.Equal(("lead", leads[1]), (snapshot.Rows[c.Pid].Kind, snapshot.Rows[c.Pid].RowId));
        Assert.StartsWith("Seller ", snapshot.Rows[c.Pid].OwnerName);
        Assert.NotNull(snapshot.WaitedAt(c.Pid, snapshot.TakenAt));
    }

    [Fact]
    public async Task A_waiter_with_two_blockers_appears_under_each_of_them()
    {
        var table = await LockKit.ScratchTableAsync(database.DataSource);
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var query = services.GetRequiredService<LockSnapshotQuery>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var first = await scene.OpenAsync("reader-1");
        var second = await scene.OpenAsync("reader-2");
        var waiter = await scene.OpenAsync("migration");
        await first.RunAsync($"BEGIN; LOCK {table} IN ACCESS SHARE MODE");
        await second.RunAsync($"BEGIN; LOCK {table} IN ACCESS SHARE MODE");
        await waiter.RunAsync("BEGIN");
        waiter.Start($"LOCK {table} IN ACCESS EXCLUSIVE MODE");

        var snapshot = await LockKit.SnapshotWhenAsync(query, s => s.ByPid.TryGetValue(waiter.Pid, out var w) && w.BlockedBy.Count == 2);

        Assert.Equal([first.Pid, second.Pid], snapshot.Tree.Trees.Select(t => t.Root.Pid).Order());
        foreach (var tree in snapshot.Tree.Trees)
        {
            var node = Assert.Single(tree.Root.Waiters);
            Assert.Equal((waiter.Pid, BlockingEdge.Holds), (node.Pid, node.Edge));
            Assert.Equal([tree.Root.Pid == first.Pid ? second.Pid : first.Pid], node.OtherBlockers);
        }

        Assert.Equal(new LockSummary(1, 2, snapshot.Summary.LongestWait, 0), snapshot.Summary);
        Assert.Equal($"relation {table}", snapshot.AwaitedLock(waiter.Pid)!.Target);
    }

    [Fact]
    public async Task A_waiter_queued_behind_a_waiter_is_shown_behind_it_not_behind_the_holder()
    {
        var table = await LockKit.ScratchTableAsync(database.DataSource);
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var query = services.GetRequiredService<LockSnapshotQuery>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var holder = await scene.OpenAsync("holder");
        var exclusive = await scene.OpenAsync("exclusive");
        var queued = await scene.OpenAsync("queued");
        await holder.RunAsync($"BEGIN; LOCK {table} IN ACCESS SHARE MODE");
        await exclusive.RunAsync("BEGIN");
        exclusive.Start($"LOCK {table} IN ACCESS EXCLUSIVE MODE");
        await scene.WaitUntilWaitingAsync(exclusive);
        await queued.RunAsync("BEGIN");
        // ACCESS SHARE does not conflict with the holder's lock: it waits only because the exclusive request is ahead.
        queued.Start($"LOCK {table} IN ACCESS SHARE MODE");

        var snapshot = await LockKit.SnapshotWhenAsync(query, s => s.Summary.WaitingSessions == 2);

        Assert.Equal([exclusive.Pid], snapshot.ByPid[queued.Pid].BlockedBy);
        var tree = Assert.Single(snapshot.Tree.Trees);
        Assert.Equal(holder.Pid, tree.Root.Pid);
        var middle = Assert.Single(tree.Root.Waiters);
        Assert.Equal((exclusive.Pid, BlockingEdge.Holds), (middle.Pid, middle.Edge));
        var last = Assert.Single(middle.Waiters);
        Assert.Equal((queued.Pid, BlockingEdge.QueuedBehind), (last.Pid, last.Edge));
    }

    [Fact]
    public async Task A_deadlock_held_open_is_shown_as_a_cycle_not_an_endless_tree()
    {
        var (_, _, leads) = await LockKit.MarketAsync(database.DataSource);
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var query = services.GetRequiredService<LockSnapshotQuery>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var a = await scene.OpenAsync("deadlock-a");
        var b = await scene.OpenAsync("deadlock-b");
        // PostgreSQL breaks a deadlock after deadlock_timeout; these two sessions wait a minute first.
        await a.RunAsync("SET deadlock_timeout = '60s'; BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[0] });
        await b.RunAsync("SET deadlock_timeout = '60s'; BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[1] });
        a.Start("SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[1] });
        await scene.WaitUntilWaitingAsync(a);
        b.Start("SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[0] });

        var snapshot = await LockKit.SnapshotWhenAsync(query, s => s.Summary.WaitingSessions == 2);

        var tree = Assert.Single(snapshot.Tree.Trees);
        Assert.True(tree.IsCycle);
        Assert.Equal(new[] { a.Pid, b.Pid }.Order(), tree.Cycle.Order());
        var nodes = tree.Root.Flatten().ToList();
        Assert.Equal(3, nodes.Count);
        Assert.Equal(BlockingEdge.CycleBack, nodes[^1].Node.Edge);
        Assert.Equal(tree.Root.Pid, nodes[^1].Node.Pid);
    }

    [Fact]
    public async Task Rows_waited_on_are_named_a_lead_with_its_seller_a_workspace_with_its_name_a_purchase_with_its_buyer()
    {
        var (seller, buyer, leads) = await LockKit.MarketAsync(database.DataSource);
        var purchase = await LockKit.ReserveAsync(database.DataSource, buyer, leads[0]);
        var second = await LockKit.ReserveAsync(database.DataSource, buyer, leads[1]);
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var query = services.GetRequiredService<LockSnapshotQuery>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var editor = await scene.OpenAsync("lead editor");
        var completion = await scene.OpenAsync("purchase completion");
        var auditor = await scene.OpenAsync("credit auditor");
        var topUp = await scene.OpenAsync("credit top-up");
        var support = await scene.OpenAsync("purchase support");
        var checkout = await scene.OpenAsync("second checkout");

        // The purchase's completion marks its lead sold, and waits for the editor's lock on that lead.
        await editor.RunAsync("BEGIN; UPDATE leads SET marketplace_price = marketplace_price WHERE id = @L", new { L = leads[0] });
        await completion.RunAsync("BEGIN");
        completion.Start("SELECT mark_leads_sold_bulk(@P, ARRAY[@L]::uuid[])", new { P = purchase, L = leads[0] });
        await auditor.RunAsync("BEGIN; SELECT 1 FROM workspace_credits WHERE workspace_id = @W FOR UPDATE", new { W = buyer });
        topUp.Start("UPDATE workspace_credits SET updated_at = now() WHERE workspace_id = @W", new { W = buyer });
        await support.RunAsync("BEGIN; SELECT 1 FROM marketplace_purchases WHERE id = @P FOR UPDATE", new { P = second });
        checkout.Start("SELECT * FROM complete_credit_lead_purchase(@P)", new { P = second });

        var snapshot = await LockKit.SnapshotWhenAsync(query, s => s.Summary.WaitingSessions == 3 && s.Rows.Count == 3);

        var lead = snapshot.Rows[completion.Pid];
        Assert.Equal(("lead", leads[0], seller), (lead.Kind, lead.RowId, lead.OwnerId));
        Assert.Contains($"lead {leads[0]}", lead.Describe());
        var credits = snapshot.Rows[topUp.Pid];
        Assert.Equal(("workspace", buyer), (credits.Kind, credits.RowId));
        Assert.StartsWith("Buyer ", credits.OwnerName);
        var row = snapshot.Rows[checkout.Pid];
        Assert.Equal(("purchase", second, buyer), (row.Kind, row.RowId, row.OwnerId));
        Assert.All(snapshot.Rows.Values, r => Assert.Null(r.Unresolved));
        // The completion and the checkout call purchase functions; the top-up waits on a marketplace row.
        Assert.Equal(3, snapshot.Summary.BlockedPurchases);
    }

    [Fact]
    public async Task An_access_exclusive_lock_queued_on_leads_does_not_hang_the_view_its_rows_are_named_unresolved_and_the_rest_shows()
    {
        var (_, buyer, leads) = await LockKit.MarketAsync(database.DataSource);
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var query = services.GetRequiredService<LockSnapshotQuery>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var holder = await scene.OpenAsync("holder");
        var waiter = await scene.OpenAsync("waiter");
        var migration = await scene.OpenAsync("long migration");
        var auditor = await scene.OpenAsync("credit auditor");
        var topUp = await scene.OpenAsync("credit top-up");
        await holder.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = leads[0] });
        waiter.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = leads[0] });
        await scene.WaitUntilWaitingAsync(waiter);
        await auditor.RunAsync("BEGIN; SELECT 1 FROM workspace_credits WHERE workspace_id = @W FOR UPDATE", new { W = buyer });
        topUp.Start("UPDATE workspace_credits SET updated_at = now() WHERE workspace_id = @W", new { W = buyer });
        await scene.WaitUntilWaitingAsync(topUp);
        var before = await LockKit.SnapshotWhenAsync(query, s => s.Rows.Count == 2);
        Assert.Equal(("lead", leads[0]), (before.Rows[waiter.Pid].Kind, before.Rows[waiter.Pid].RowId));
        // Queued for ACCESS EXCLUSIVE: from now on every reader of leads, the monitor's row lookup too, queues behind it.
        await migration.RunAsync("BEGIN");
        migration.Start("LOCK TABLE leads IN ACCESS EXCLUSIVE MODE");
        await scene.WaitUntilWaitingAsync(migration);

        var clock = Stopwatch.StartNew();
        var snapshot = await query.ReadAsync(CancellationToken.None);
        clock.Stop();

        Assert.Null(snapshot.TimedOut);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"The view took {clock.Elapsed}: {snapshot.Rows[waiter.Pid].Unresolved}");
        Assert.Equal(3, snapshot.Summary.WaitingSessions);
        Assert.Contains(snapshot.Tree.Trees, t => t.Root.Pid == holder.Pid && t.Root.Flatten().Any(n => n.Node.Pid == migration.Pid));
        var unresolved = snapshot.Rows[waiter.Pid];
        Assert.Null(unresolved.RowId);
        Assert.Contains("leads could not be read", unresolved.Unresolved);
        Assert.Contains("not resolved", unresolved.Describe());
        Assert.Equal(("workspace", buyer), (snapshot.Rows[topUp.Pid].Kind, snapshot.Rows[topUp.Pid].RowId));
    }

    [Fact]
    public async Task An_access_exclusive_lock_held_on_leads_shows_its_waiters_at_once()
    {
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var query = services.GetRequiredService<LockSnapshotQuery>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var migration = await scene.OpenAsync("long migration");
        var reader = await scene.OpenAsync("purchase");
        await migration.RunAsync("BEGIN; LOCK TABLE leads IN ACCESS EXCLUSIVE MODE");
        reader.Start("SELECT count(*) FROM leads");

        var snapshot = await LockKit.SnapshotWhenAsync(query, s => s.Summary.WaitingSessions == 1);

        Assert.Null(snapshot.TimedOut);
        Assert.Equal(migration.Pid, Assert.Single(snapshot.Tree.Trees).Root.Pid);
        Assert.Equal("relation leads", snapshot.AwaitedLock(reader.Pid)!.Target);
        Assert.Contains(snapshot.Locks, l => l.Pid == migration.Pid && l.Mode == "AccessExclusiveLock" && l.Granted);
    }

    [Fact]
    public async Task A_snapshot_that_cannot_get_its_locks_in_time_says_the_lock_view_timed_out_instead_of_showing_an_empty_view()
    {
        await using var services = LockKit.Services(database.SuperuserConnectionString);
        var query = services.GetRequiredService<LockSnapshotQuery>();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var blocker = await scene.OpenAsync("catalog blocker");
        await blocker.RunAsync("BEGIN; LOCK TABLE pg_catalog.pg_locks IN ACCESS EXCLUSIVE MODE");

        var clock = Stopwatch.StartNew();
        var snapshot = await query.ReadAsync(CancellationToken.None);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"The view took {clock.Elapsed}.");
        Assert.StartsWith("Lock view timed out", snapshot.TimedOut);
        Assert.Contains("Locks:LockTimeout", snapshot.TimedOut);
        Assert.Empty(snapshot.Sessions);
    }

    [Fact]
    public async Task A_role_without_pg_monitor_and_pg_signal_backend_is_told_which_grants_are_missing()
    {
        var role = "lv_" + Guid.NewGuid().ToString("N")[..10];
        await using (var admin = await database.DataSource.OpenConnectionAsync())
        {
            await using var create = new Npgsql.NpgsqlCommand($"CREATE ROLE {role} LOGIN PASSWORD '{LockKit.SuperuserPassword(database)}'", admin);
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            var asRole = new Npgsql.NpgsqlConnectionStringBuilder(database.SuperuserConnectionString) { Username = role }.ConnectionString;
            await using var services = LockKit.Services(asRole);
            var snapshot = await services.GetRequiredService<LockSnapshotQuery>().ReadAsync(CancellationToken.None);

            Assert.Null(snapshot.TimedOut);
            Assert.Equal(new LockPrivileges(role, false, false, false), snapshot.Privileges);
            Assert.Equal([$"GRANT pg_monitor TO {role};", $"GRANT pg_signal_backend TO {role};"], snapshot.Privileges!.MissingGrants);

            await using var admin = await database.DataSource.OpenConnectionAsync();
            await using var grant = new Npgsql.NpgsqlCommand($"GRANT pg_monitor, pg_signal_backend TO {role}", admin);
            await grant.ExecuteNonQueryAsync();
            var granted = await services.GetRequiredService<LockSnapshotQuery>().ReadAsync(CancellationToken.None);
            Assert.Empty(granted.Privileges!.MissingGrants);
        }
        finally
        {
            await using var admin = await database.DataSource.OpenConnectionAsync();
            await using var drop = new Npgsql.NpgsqlCommand(
                $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'; DROP ROLE IF EXISTS {role}", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }
}
