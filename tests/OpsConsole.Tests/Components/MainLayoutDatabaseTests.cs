using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MudBlazor;
using MudBlazor.Extensions;
using Npgsql;
using OpsConsole.Components.Layout;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Database;
using OpsConsole.Database;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Components;

/// <summary>
/// The layout against a real PostgreSQL that the test kills and restarts: the banner appears, and goes
/// away by itself within 10 s of the database coming back. A cluster of its own, since it is stopped, on a port
/// outside the ephemeral range so that nothing takes it while the cluster is down.
/// </summary>
public sealed class MainLayoutDatabaseTests : ConsoleBunitContext
{
    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(10);
    private string _folder = "";
    private LocalPostgresCluster? _cluster;
    private NpgsqlDataSource? _dataSource;
    private DatabaseProbe? _probe;

    private LocalPostgresCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster is not started.");

    protected override async Task ConfigureAsync()
    {
        // In a folder the test run's reaper covers: a run that fails or is killed half way leaves no cluster behind.
        (_cluster, _folder) = await PostgresServer.StartPrivateClusterAsync(PortNoOneElseTakes(), CancellationToken.None);
        await Cluster.CreateDatabaseIfMissingAsync("console", CancellationToken.None);
        await DatabaseMigrator.MigrateAsync(Cluster.ConnectionString("console"), CancellationToken.None);
        _dataSource = NpgsqlDataSource.Create(Cluster.ConnectionString("console"));

        Services.AddSingleton(_dataSource);
        Services.AddSingleton(new UserPreferencesStore(_dataSource));
        var status = Services.GetRequiredService<DatabaseStatus>();
        _probe = new DatabaseProbe(new DatabasePing(_dataSource), status,
            Options.Create(new DatabaseProbeOptions { Interval = TimeSpan.FromMilliseconds(500), Timeout = TimeSpan.FromSeconds(1) }),
            NullLogger<DatabaseProbe>.Instance);
        await _probe.StartAsync(CancellationToken.None);
    }

    [Fact]
    public async Task The_layout_shows_the_banner_when_the_database_dies_and_drops_it_within_10s_of_its_return()
    {
        SignInAs("manager", OpsRoles.Manager);
        var cut = Render<MainLayout>(p => p.Add(l => l.Body, (RenderFragment)(b => b.AddContent(0, "page"))));
        await cut.WaitForAssertionAsync(() => Assert.Contains("Database OK", cut.Find("[data-testid=database-indicator]").TextContent));
        Assert.Empty(cut.FindAll("[data-testid=database-banner]"));

        await Cluster.KillAsync();
        await cut.WaitForAssertionAsync(
            () =>
            {
                Assert.NotEmpty(cut.FindAll("[data-testid=database-banner]"));
                Assert.Contains("Database unreachable", cut.Find("[data-testid=database-indicator]").TextContent);
            },
            RecoveryDeadline);

        await Cluster.RestartAsync();
        await cut.WaitForAssertionAsync(
            () =>
            {
                Assert.Empty(cut.FindAll("[data-testid=database-banner]"));
                Assert.Contains("Database OK", cut.Find("[data-testid=database-indicator]").TextContent);
            },
            RecoveryDeadline);
    }

    [Fact]
    public async Task The_theme_choice_is_kept_for_the_user_across_page_loads()
    {
        SignInAs("theme-tester", OpsRoles.Support);
        var first = Render<MainLayout>(p => p.Add(l => l.Body, (RenderFragment)(b => b.AddContent(0, "page"))));
        Assert.False(first.FindComponent<MudThemeProvider>().Instance.GetState(x => x.IsDarkMode));

        // ClickAsync completes when the handler has, so the choice is stored by then.
        await first.Find("[data-testid=theme-toggle]").ClickAsync(new Microsoft.AspNetCore.Components.Web.MouseEventArgs());
        await first.WaitForAssertionAsync(() => Assert.True(first.FindComponent<MudThemeProvider>().Instance.GetState(x => x.IsDarkMode)), TimeSpan.FromSeconds(10));
        Assert.True(await new UserPreferencesStore(_dataSource!).GetDarkModeAsync("theme-tester", CancellationToken.None));

        await DisposeComponentsAsync();
        var reloaded = Render<MainLayout>(p => p.Add(l => l.Body, (RenderFragment)(b => b.AddContent(0, "page"))));
        // The reload reads the choice from the database: bUnit's 1 s default is too short on a loaded machine.
        await reloaded.WaitForAssertionAsync(() => Assert.True(reloaded.FindComponent<MudThemeProvider>().Instance.GetState(x => x.IsDarkMode)), TimeSpan.FromSeconds(10));
    }

    // The cluster restarts on the port it had, so nothing may take that port while it is down. Every other socket of
    // the run gets its port from the kernel's ephemeral range (outgoing connections, and binds to port 0 as every
    // other test cluster and app does); a free port below that range is never handed out, so it stays ours.
    private static int PortNoOneElseTakes()
    {
        var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var ephemeralStart = int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var port = Random.Shared.Next(Math.Min(10_000, ephemeralStart / 2), ephemeralStart);
            try
            {
                using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
                probe.Start();
                return port;
            }
            catch (System.Net.Sockets.SocketException)
            {
                // Someone listens there already: try another.
            }
        }

        throw new InvalidOperationException($"No free loopback port below the ephemeral range ({ephemeralStart}).");
    }

    protected override async ValueTask DisposeAsyncCore()
    {
        // Each step only if set up: a set-up that failed half way must still remove the cluster it started.
        try
        {
            if (_probe is not null)
            {
                await _probe.StopAsync(CancellationToken.None);
                _probe.Dispose();
            }

            if (_dataSource is not null)
            {
                await _dataSource.DisposeAsync();
            }
        }
        finally
        {
            if (_cluster is not null)
            {
                await _cluster.DestroyAsync();
                Directory.Delete(_folder, recursive: true);
            }

            await base.DisposeAsyncCore();
        }
    }
}
