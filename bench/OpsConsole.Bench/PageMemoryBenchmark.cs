using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Npgsql;
using OpsConsole.Core;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Deployments;
using OpsConsole.Hosting;
using OpsConsole.Testing;

namespace OpsConsole.Bench;

/// <summary>
/// Benchmark 10: managed memory a Blazor Server circuit (one open page) holds, per page kind. The console runs in
/// this process on Kestrel (as the tests' browser fixture does); Debian's Chromium, headless through Playwright,
/// signs in once and opens 20, then 100 tabs of one kind. With half the tabs showing their data and again with all
/// of them, full blocking compacting GCs measure the managed heap: its growth over the second half, divided by those
/// tabs, is that kind's memory per circuit; its growth since before the first tab, divided by all of them, is also
/// reported (it includes the pools the first tabs fill once). The tabs are then closed and the circuits awaited gone
/// before the next kind; every kind at 20 tabs first, then at 100.
/// </summary>
internal static class PageMemoryBenchmark
{
    private const string Password = "bench page memory";
    private static readonly int[] PageCounts = [20, 100];

    public static async Task RunAsync(BenchServer server, Report report, string? onlyKind, CancellationToken cancellationToken)
    {
        var connectionString = await server.CreateMarketplaceAsync("bench_page_memory", cancellationToken);
        await using var data = NpgsqlDataSource.Create(connectionString);
        await new DemoSeeder(data).SeedAsync(3000, cancellationToken);
        // A month of traffic (the metrics page's windows and chart have data) and a lock-free database.
        await MetricsRows.TrafficAsync(data, [DemoSeeder.WorkspaceId(1), DemoSeeder.WorkspaceId(2)], 0, 200_000, cancellationToken);

        await using var host = await ConsoleHost.StartAsync(connectionString, cancellationToken);
        await host.Services.GetRequiredService<AccountService>().UpsertAsync("engineer", OpsRoles.Engineer, Password, cancellationToken);
        var run = await host.Services.GetRequiredService<IDeploymentService>()
            .StartRunAsync(TestActors.Engineer, RunbookCatalog.RaceConditionFixes, "Page memory", cancellationToken);

        // (path, what shows once the page has its data)
        (string Kind, string Path, string Ready)[] kinds =
        [
            ("overview", "/", "h1:has-text('Overview')"),
            ("purchases metrics", "/purchases", "[data-testid=purchase-chart] svg"),
            ("deployment run", $"/deployments/{run.Value}", "[data-testid=progress]"),
            ("locks", "/locks", "[data-testid=lock-summary]"),
            ("credits", "/credits", "[data-testid=drift-table]"),
        ];
        if (onlyKind is not null)
        {
            kinds = [.. kinds.Where(k => string.Equals(k.Kind, onlyKind, StringComparison.OrdinalIgnoreCase))];
            if (kinds.Length == 0)
            {
                throw new ArgumentException($"--page-kind {onlyKind}: no such page kind (overview, purchases metrics, deployment run, locks, credits).");
            }
        }

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            // The project's flags, and at most 8 renderer processes for the 100 tabs: tabs of one site share them,
            // which changes nothing on the server (one circuit per tab either way).
            Args =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--renderer-process-limit=8",
            ],
        });
        await using var context = await browser.NewContextAsync();
        await SignInAsync(context, host.BaseUrl);

        // One tab of each kind first, closed again: what is built once per process (JIT, static caches, the
        // sampler's shared snapshots, connection pools) is not counted against the first kind measured.
        foreach (var (_, path, ready) in kinds)
        {
            var page = await OpenAsync(context, host.BaseUrl + path, ready);
            await page.CloseAsync(new() { RunBeforeUnload = true });
        }

        // Every kind at 20 tabs, then every kind at 100.
        foreach (var count in PageCounts)
        {
            foreach (var (kind, path, ready) in kinds)
            {
                await host.Circuits.WaitForAsync(0, cancellationToken);
                var before = await SettledHeapAsync(cancellationToken);
                var half = 0L;
                var pages = new List<IPage>();
                var clock = Stopwatch.StartNew();
                try
                {
                    for (var i = 0; i < count; i++)
                    {
                        pages.Add(await OpenAsync(context, host.BaseUrl + path, ready));
                        if (pages.Count == count / 2)
                        {
                            await host.Circuits.WaitForAsync(pages.Count, cancellationToken);
                            half = await SettledHeapAsync(cancellationToken);
                        }
                    }
                }
                catch (TimeoutException error)
                {
                    // Chromium could not keep this many tabs of the kind live on the machine: say so, measure the rest.
                    report.Add("10. memory per open page", $"{kind}, {count} pages", $"not measured: tab {pages.Count + 1} did not show its data ({error.Message.Split('\n')[0]})");
                    await CloseAllAsync(pages);
                    continue;
                }

                await host.Circuits.WaitForAsync(count, cancellationToken);
                var after = await SettledHeapAsync(cancellationToken);
                var perPage = (after - before) / (double)count;
                var perCircuit = (after - half) / (double)(count - count / 2);
                Console.WriteLine($"Page memory: {count} × {kind} opened in {clock.Elapsed.TotalSeconds:0} s, heap {before / 1e6:0.0} → {half / 1e6:0.0} (half) → {after / 1e6:0.0} MB ({Generations()})");
                // What each open page holds is the second half's growth per tab. The first tabs of a process also fill
                // pools that every later page reuses (ArrayPool buffers for render trees and their serialised
                // batches: see the README), so the whole growth per tab is that plus a one-off cost divided by the tabs.
                report.Add("10. memory per open page", $"{kind}, {count} pages: managed heap per circuit (growth over tabs {count / 2 + 1}–{count})", $"{perCircuit / 1e6:0.00} MB", "< 1 MB", perCircuit < 1e6);
                report.Add("10. memory per open page", $"{kind}, {count} pages: managed heap growth per tab, one-off pool fill included", $"{perPage / 1e6:0.00} MB");
                await HeapDumpAsync(kind, count, cancellationToken);

                await CloseAllAsync(pages);
                await host.Circuits.WaitForAsync(0, cancellationToken);
                Console.WriteLine($"Page memory: {count} × {kind} closed, heap {await SettledHeapAsync(cancellationToken) / 1e6:0.0} MB ({Generations()})");
            }
        }
    }

    // Where the heap is after the last collection: the small object heap's generations, the large object heap and the
    // pinned object heap (Kestrel's and SignalR's pooled buffers).
    private static string Generations()
    {
        var info = GC.GetGCMemoryInfo(GCKind.Any).GenerationInfo;
        string[] names = ["gen0", "gen1", "gen2", "LOH", "POH"];
        var parts = new string[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            parts[i] = $"{names[i]} {info[i].SizeAfterBytes / 1e6:0.0}";
        }

        return string.Join(", ", parts);
    }

    private static async Task CloseAllAsync(List<IPage> pages)
    {
        foreach (var page in pages)
        {
            await page.CloseAsync(new() { RunBeforeUnload = true });
        }
    }

    private static async Task<IPage> OpenAsync(IBrowserContext context, string url, string ready)
    {
        // Generous deadlines: a hundred tabs redrawing charts every 5 s share two cores with the server.
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(180_000);
        await page.GotoAsync(url, new() { WaitUntil = WaitUntilState.DOMContentLoaded });
        await page.Locator("[data-interactive=true]").WaitForAsync();
        await page.Locator(ready).First.WaitForAsync();
        return page;
    }

    // The heap once it holds still: closed tabs' connections and circuits finish going some seconds after the circuit
    // handler hears of them (100 closed metrics tabs left 9 MB that went during the next kind's measurement). Measured
    // every 2 s until two readings differ by less than 256 KB, for at most 30 s.
    private static async Task<long> SettledHeapAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var last = ManagedHeap();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            var now = ManagedHeap();
            if (Math.Abs(now - last) < 256 * 1024)
            {
                return now;
            }

            last = now;
        }

        return last;
    }

    // The live managed heap after full, blocking, compacting collections (finalizers run in between, so what they
    // free is gone too).
    private static long ManagedHeap()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }

    // With OPSCONSOLE_BENCH_GCDUMP=<folder> (and dotnet-gcdump on PATH), a heap dump of this process while the tabs
    // are open: `dotnet-gcdump report <file>` lists what holds the memory, by type.
    private static async Task HeapDumpAsync(string kind, int count, CancellationToken cancellationToken)
    {
        if (Environment.GetEnvironmentVariable("OPSCONSOLE_BENCH_GCDUMP") is not { Length: > 0 } folder)
        {
            return;
        }

        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, $"{kind.Replace(' ', '-')}-{count}.gcdump");
        // OPSCONSOLE_BENCH_FULLDUMP=1: a full heap dump instead (dotnet-dump; `dotnet-dump analyze`, `dumpheap -stat`), exact
        // where gcdump samples.
        var pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var full = Environment.GetEnvironmentVariable("OPSCONSOLE_BENCH_FULLDUMP") == "1";
        if (full)
        {
            file = Path.ChangeExtension(file, ".dmp");
        }

        var start = full
            ? new ProcessStartInfo("dotnet-dump", ["collect", "--type", "Heap", "-p", pid, "-o", file])
            : new ProcessStartInfo("dotnet-gcdump", ["collect", "-p", pid, "-o", file]);
        start.RedirectStandardOutput = true;
        using var dump = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start.");
        await dump.StandardOutput.ReadToEndAsync(cancellationToken);
        await dump.WaitForExitAsync(cancellationToken);
        Console.WriteLine($"Page memory: heap dump {file} (exit {dump.ExitCode})");
    }

    private static async Task SignInAsync(IBrowserContext context, string baseUrl)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync(baseUrl + "/login");
        await page.GetByLabel("User name").FillAsync("engineer");
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.Locator("[data-interactive=true]").WaitForAsync(new() { Timeout = 60_000 });
        await page.CloseAsync(new() { RunBeforeUnload = true });
    }

    /// <summary>The console as Program.cs builds it, on a loopback port, demo off, counting its circuits.</summary>
    private sealed class ConsoleHost(WebApplication app, string baseUrl, CircuitCounter circuits) : IAsyncDisposable
    {
        public string BaseUrl { get; } = baseUrl;

        public CircuitCounter Circuits { get; } = circuits;

        public IServiceProvider Services => app.Services;

        public static async Task<ConsoleHost> StartAsync(string connectionString, CancellationToken cancellationToken)
        {
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions
            {
                ApplicationName = "OpsConsole",
                // HTTPS redirection and HSTS are off in Development only; the pages are the same.
                EnvironmentName = "Development",
                ContentRootPath = ContentRoot(),
            });
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.WebHost.UseStaticWebAssets();
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Marketplace"] = connectionString,
                ["Demo:Enabled"] = "false",
                ["Accounts:SignInAttemptsPerMinute"] = "1000",
            });
            builder.Services.AddOpsConsoleCore(builder.Configuration);
            builder.Services.AddOpsConsoleUi(builder.Configuration, builder.Environment);
            var circuits = new CircuitCounter();
            builder.Services.AddSingleton<CircuitHandler>(circuits);
            // A closed tab's circuit is released at once (the tabs say goodbye), or within a second if one does not.
            builder.Services.Configure<CircuitOptions>(o => o.DisconnectedCircuitRetentionPeriod = TimeSpan.FromSeconds(1));

            var app = builder.Build();
            app.UseOpsConsoleUi();
            await app.StartAsync(cancellationToken);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new ConsoleHost(app, address.Replace("127.0.0.1", "localhost", StringComparison.Ordinal).TrimEnd('/'), circuits);
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        private static string ContentRoot()
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OpsConsole.sln")))
            {
                directory = directory.Parent;
            }

            return Path.Combine(directory?.FullName ?? throw new InvalidOperationException("OpsConsole.sln not found above the benchmark."), "src", "OpsConsole");
        }
    }

    /// <summary>Open circuits, to know when closed tabs' circuits are gone.</summary>
    private sealed class CircuitCounter : CircuitHandler
    {
        private int _open;

        public override Task OnCircuitOpenedAsync(Circuit circuit, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _open);
            return Task.CompletedTask;
        }

        public override Task OnCircuitClosedAsync(Circuit circuit, CancellationToken cancellationToken)
        {
            Interlocked.Decrement(ref _open);
            return Task.CompletedTask;
        }

        public async Task WaitForAsync(int open, CancellationToken cancellationToken)
        {
            var deadline = Stopwatch.StartNew();
            while (Volatile.Read(ref _open) != open)
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(60))
                {
                    throw new TimeoutException($"{Volatile.Read(ref _open)} circuits open, expected {open}.");
                }

                await Task.Delay(100, cancellationToken);
            }
        }
    }
}
