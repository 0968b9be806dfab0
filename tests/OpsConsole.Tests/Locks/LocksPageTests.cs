using Bunit;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using OpsConsole.Components.Pages.Locks;
using OpsConsole.Core.Locks;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Locks;

/// <summary>
/// The /locks page over the real sampler, real actions and real sessions holding real locks. bUnit starts no hosted
/// service: the page gets a snapshot when it subscribes, and the tests take further samples themselves.
/// </summary>
public sealed class LocksPageTests(MarketplaceDatabase database) : ConsoleBunitContext, IClassFixture<MarketplaceDatabase>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private const string ConsoleApplication = "opsconsole-page-tests";

    private LockSampler Sampler => Services.GetRequiredService<LockSampler>();

    protected override Task ConfigureAsync()
    {
        // Thresholds far above any scene's waits: on a loaded machine (load average 60 seen) a scene's waits passed
        // the default 10 s WARN before the page's first snapshot, and the level is not what these tests are about.
        // Under an application name of its own, as the console runs, so a scene session can pose as one of the console's.
        var console = new Npgsql.NpgsqlConnectionStringBuilder(database.SuperuserConnectionString) { ApplicationName = ConsoleApplication }.ConnectionString;
        Services.AddOpsConsoleCoreFor(console, new Dictionary<string, string?>
        {
            ["Locks:WaitWarn"] = "00:05:00",
            ["Locks:WaitAlert"] = "00:10:00",
        });
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_chain_shows_its_root_its_waiters_the_lead_they_wait_on_and_the_summary_and_grid()
    {
        SignInAs("erin", "engineer");
        var (lead, _) = await LeadAsync();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var (holder, first, second) = await ChainAsync(scene, lead);

        var page = RenderPage();

        await page.WaitForAssertionAsync(() => Assert.Equal("2 waiting sessions", page.Find("[data-testid=summary-waiting]").TextContent.Trim()), Deadline);
        var nodes = page.FindAll("[data-testid=lock-node]");
        Assert.Equal([holder.Pid, first.Pid, second.Pid], nodes.Select(n => int.Parse(n.GetAttribute("data-pid")!)));
        Assert.Equal(["Root", "Holds", "QueuedBehind"], nodes.Select(n => n.GetAttribute("data-edge")!));
        Assert.Contains($"lead {lead}", nodes[1].QuerySelector("[data-testid=node-row]")!.TextContent);
        Assert.Contains("SELECT 1 FROM leads", nodes[0].QuerySelector("[data-testid=node-query] pre")!.TextContent);
        Assert.Equal("2 sessions block others", page.Find("[data-testid=summary-blocking]").TextContent.Trim());
        Assert.Equal("Ok", page.Find("[data-testid=summary-level]").GetAttribute("data-level"));
        Assert.Equal(3, page.FindAll("[data-testid=terminate-backend]").Count);
        Assert.Contains(page.FindAll("[data-testid=locks-grid] td"), td => td.TextContent.Contains("relation leads"));
        Assert.NotNull(page.Find("[data-testid=lock-history-chart]"));
    }

    [Fact]
    public async Task The_lock_grid_filters_by_pid_and_granted_and_sorts_by_a_heading()
    {
        SignInAs("erin", "engineer");
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var (page, holder, first) = await ChainPageAsync(scene);

        await page.FindAndInputAsync("[data-testid=filter-pid]", holder.Pid.ToString());
        await page.WaitForAssertionAsync(() =>
        {
            var rows = page.FindAll("[data-testid=lock-row]");
            Assert.NotEmpty(rows);
            Assert.All(rows, r => Assert.Equal(holder.Pid.ToString(), r.GetAttribute("data-pid")));
        }, Deadline);

        // The waiter's one awaited lock: the granted filter keeps it, the held filter leaves only its granted ones.
        await page.FindAndInputAsync("[data-testid=filter-pid]", first.Pid.ToString());
        await page.FindAndChangeAsync("[data-testid=filter-granted]", "Awaited");
        await page.WaitForAssertionAsync(() =>
        {
            var row = Assert.Single(page.FindAll("[data-testid=lock-row]"));
            Assert.Equal("False", row.Children[1].TextContent);
        }, Deadline);

        await page.FindAndInputAsync("[data-testid=filter-pid]", "");
        await page.FindAndChangeAsync("[data-testid=filter-granted]", "All");
        await page.FindAndClickAsync("[data-testid=sort-pid]");
        await page.WaitForAssertionAsync(() =>
        {
            Assert.Equal("ascending", page.Find("[data-testid=sort-pid]").ParentElement!.GetAttribute("aria-sort"));
            var pids = page.FindAll("[data-testid=lock-row]").Select(r => int.Parse(r.GetAttribute("data-pid")!)).ToList();
            Assert.True(pids.Count > 1);
            Assert.Equal(pids.Order(), pids);
        }, Deadline);
        await page.FindAndClickAsync("[data-testid=sort-pid]");
        await page.WaitForAssertionAsync(() =>
        {
            var pids = page.FindAll("[data-testid=lock-row]").Select(r => int.Parse(r.GetAttribute("data-pid")!)).ToList();
            Assert.Equal(pids.OrderDescending(), pids);
        }, Deadline);
    }

    [Fact]
    public async Task A_manager_sees_the_view_without_cancel_or_terminate()
    {
        SignInAs("maria", "manager");
        var (lead, _) = await LeadAsync();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        await ChainAsync(scene, lead);

        var page = RenderPage();

        await page.WaitForAssertionAsync(() => Assert.Equal(3, page.FindAll("[data-testid=lock-node]").Count), Deadline);
        Assert.Empty(page.FindAll("[data-testid=terminate-backend]"));
        Assert.Empty(page.FindAll("[data-testid=cancel-backend]"));
    }

    [Fact]
    public async Task Cancel_and_terminate_are_off_on_the_consoles_own_session_with_the_reason_beside_them()
    {
        SignInAs("erin", "engineer");
        var (lead, _) = await LeadAsync();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var holder = await scene.OpenAsync(ConsoleApplication);
        var waiter = await scene.OpenAsync("buyer one");
        await holder.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = lead });
        waiter.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = lead });
        await scene.WaitUntilWaitingAsync(waiter);

        var page = RenderPage();

        await page.WaitForAssertionAsync(() => Assert.Equal(2, page.FindAll("[data-testid=lock-node]").Count), Deadline);
        var own = page.Find($"[data-testid=lock-node][data-pid='{holder.Pid}']");
        Assert.True(own.QuerySelector("[data-testid=cancel-backend]")!.HasAttribute("disabled"));
        Assert.True(own.QuerySelector("[data-testid=terminate-backend]")!.HasAttribute("disabled"));
        Assert.Contains("console's own session", own.QuerySelector("[data-testid=backend-action-disabled-reason]")!.TextContent, StringComparison.Ordinal);
        var other = page.Find($"[data-testid=lock-node][data-pid='{waiter.Pid}']");
        Assert.False(other.QuerySelector("[data-testid=terminate-backend]")!.HasAttribute("disabled"));
        Assert.Null(other.QuerySelector("[data-testid=backend-action-disabled-reason]"));
    }

    [Fact]
    public async Task Terminate_asks_for_a_reason_shows_the_query_and_what_it_blocks_then_releases_the_waiter()
    {
        SignInAs("erin", "engineer");
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var (page, holder, first) = await ChainPageAsync(scene);

        await page.FindAndClickAsync(p => p.FindAll("[data-testid=lock-node]")[0].QuerySelector("[data-testid=terminate-backend]")!);

        await page.WaitForAssertionAsync(() => Assert.NotNull(page.Find("[data-testid=dialog-confirm]")), Deadline);
        Assert.Contains("SELECT 1 FROM leads", page.Find("[data-testid=dialog-query]").TextContent);
        Assert.Contains($"pid {first.Pid}", page.Find("[data-testid=dialog-blocked]").TextContent);
        Assert.True(page.Find("[data-testid=dialog-confirm]").HasAttribute("disabled"));
        await page.FindAndInputAsync("textarea", "blocks the hot lead");
        await page.WaitForAssertionAsync(() => Assert.False(page.Find("[data-testid=dialog-confirm]").HasAttribute("disabled")), Deadline);
        await page.FindAndClickAsync("[data-testid=dialog-confirm]");

        await page.WaitForAssertionAsync(() => Assert.Contains($"Terminated session {holder.Pid}", page.Find("[data-testid=lock-action-done]").TextContent), Deadline);
        await first.Pending.WaitAsync(Deadline);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        Assert.Equal("erin", (await connection.QuerySingleAsync<string>(
            "SELECT actor FROM ops.lock_actions WHERE pid = @Pid AND reason = 'blocks the hot lead'", new { holder.Pid })).Split(' ')[0]);
        // A sample younger than half an interval would be served again: take a fresh one.
        await Task.Delay(Sampler.Interval);
        await Sampler.SampleAsync(CancellationToken.None);
        await page.WaitForAssertionAsync(() => Assert.DoesNotContain(page.FindAll("[data-testid=lock-node]"), n => n.GetAttribute("data-pid") == holder.Pid.ToString()), Deadline);
    }

    [Fact]
    public async Task Pause_freezes_the_view_and_resume_shows_the_latest()
    {
        SignInAs("erin", "engineer");
        var (lead, other) = await LeadAsync();
        await using var scene = new LockScene(database.SuperuserConnectionString);
        await ChainAsync(scene, lead);
        var page = RenderPage();
        await page.WaitForAssertionAsync(() => Assert.Equal("2 waiting sessions", page.Find("[data-testid=summary-waiting]").TextContent.Trim()), Deadline);

        await page.FindAndClickAsync("[data-testid=pause]");
        var holder = await scene.OpenAsync("another holder");
        var waiter = await scene.OpenAsync("another waiter");
        await holder.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = other });
        waiter.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = other });
        await scene.WaitUntilWaitingAsync(waiter);
        await Task.Delay(Sampler.Interval);
        await Sampler.SampleAsync(CancellationToken.None);

        Assert.Equal("2 waiting sessions", page.Find("[data-testid=summary-waiting]").TextContent.Trim());
        Assert.Contains("Paused at", page.Find("[data-testid=lock-updated]").TextContent);
        await page.FindAndClickAsync("[data-testid=pause]");
        await page.WaitForAssertionAsync(() => Assert.Equal("3 waiting sessions", page.Find("[data-testid=summary-waiting]").TextContent.Trim()), Deadline);
    }

    [Fact]
    public async Task A_view_that_timed_out_says_so_and_never_shows_a_quiet_database()
    {
        SignInAs("erin", "engineer");
        await using var scene = new LockScene(database.SuperuserConnectionString);
        var blocker = await scene.OpenAsync("catalog blocker");
        await blocker.RunAsync("BEGIN; LOCK TABLE pg_catalog.pg_locks IN ACCESS EXCLUSIVE MODE");

        var page = RenderPage();

        await page.WaitForAssertionAsync(() => Assert.Contains("Lock view timed out", page.Find("[data-testid=lock-timeout]").TextContent), Deadline);
        Assert.Empty(page.FindAll("[data-testid=no-blocking]"));
        Assert.Empty(page.FindAll("[data-testid=summary-waiting]"));
    }

    // A chain on a fresh lead, and the page once it shows the chain's three sessions.
    private async Task<(IRenderedComponent<Microsoft.AspNetCore.Components.IComponent> Page, LockSceneSession Holder, LockSceneSession First)> ChainPageAsync(LockScene scene)
    {
        var (lead, _) = await LeadAsync();
        var (holder, first, _) = await ChainAsync(scene, lead);
        var page = RenderPage();
        await page.WaitForAssertionAsync(() => Assert.Equal(3, page.FindAll("[data-testid=lock-node]").Count), Deadline);
        return (page, holder, first);
    }

    private IRenderedComponent<Microsoft.AspNetCore.Components.IComponent> RenderPage() => Render(builder =>
    {
        builder.OpenComponent<MudDialogProvider>(0);
        builder.CloseComponent();
        builder.OpenComponent<LocksPage>(1);
        builder.CloseComponent();
    });

    private async Task<(Guid Lead, Guid Other)> LeadAsync()
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var seller = Guid.NewGuid();
        await connection.ExecuteAsync("INSERT INTO workspaces (id, name) VALUES (@Seller, 'Page seller')", new { Seller = seller });
        var leads = (await connection.QueryAsync<Guid>(
            "INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price) SELECT gen_random_uuid(), @Seller, true, 10 FROM generate_series(1, 2) RETURNING id",
            new { Seller = seller })).ToArray();
        return (leads[0], leads[1]);
    }

    // holder <- first (waits on the row) <- second (queued behind first).
    private static async Task<(LockSceneSession Holder, LockSceneSession First, LockSceneSession Second)> ChainAsync(LockScene scene, Guid lead)
    {
        var holder = await scene.OpenAsync("slow checkout");
        var first = await scene.OpenAsync("buyer one");
        var second = await scene.OpenAsync("buyer two");
        await holder.RunAsync("BEGIN; SELECT 1 FROM leads WHERE id = @L FOR UPDATE", new { L = lead });
        first.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = lead });
        await scene.WaitUntilWaitingAsync(first);
        second.Start("UPDATE leads SET sold_count = sold_count WHERE id = @L", new { L = lead });
        await scene.WaitUntilWaitingAsync(second);
        return (holder, first, second);
    }
}
