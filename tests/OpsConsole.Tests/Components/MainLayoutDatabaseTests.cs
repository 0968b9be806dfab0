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
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Components;

/// <summary>
/// The layout against a real PostgreSQL that the test kills and restarts: the banner appears, and goes
/// away by itself within 10 s of the database coming back. A cluster of its own, since it is stopped.
/// </summary>
public sealed class MainLayoutDatabaseTests : ConsoleBunitContext
{
    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(10);
    private string _folder = "";
    private LocalPostgresCluster _cluster = null!;
    private NpgsqlDataSource _dataSource = null!;
    private DatabaseProbe _probe = null!;

    protected override async Task ConfigureAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"opsconsole-banner-test-{Guid.NewGuid():N}");
        _cluster = await LocalPostgresCluster.StartAsync(
            new LocalClusterOptions { DataDirectory = Path.Combine(_folder, "pgdata"), Durable = false }, CancellationToken.None);
        await _cluster.CreateDatabaseIfMissingAsync("console", CancellationToken.None);
        await DatabaseMigrator.MigrateAsync(_cluster.ConnectionString("console"), CancellationToken.None);
        _dataSource = NpgsqlDataSource.Create(_cluster.ConnectionString("console"));

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
        cut.WaitForAssertion(() => Assert.Contains("Database OK", cut.Find("[data-testid=database-indicator]").TextContent));
        Assert.Empty(cut.FindAll("[data-testid=database-banner]"));

        await _cluster.KillAsync();
        cut.WaitForAssertion(
            () =>
            {
                Assert.NotEmpty(cut.FindAll("[data-testid=database-banner]"));
                Assert.Contains("Database unreachable", cut.Find("[data-testid=database-indicator]").TextContent);
            },
            RecoveryDeadline);

        await _cluster.RestartAsync();
        cut.WaitForAssertion(
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
        first.WaitForAssertion(() => Assert.True(first.FindComponent<MudThemeProvider>().Instance.GetState(x => x.IsDarkMode)), TimeSpan.FromSeconds(10));
        Assert.True(await new UserPreferencesStore(_dataSource).GetDarkModeAsync("theme-tester", CancellationToken.None));

        await DisposeComponentsAsync();
        var reloaded = Render<MainLayout>(p => p.Add(l => l.Body, (RenderFragment)(b => b.AddContent(0, "page"))));
        // The reload reads the choice from the database: bUnit's 1 s default is too short on a loaded machine.
        reloaded.WaitForAssertion(() => Assert.True(reloaded.FindComponent<MudThemeProvider>().Instance.GetState(x => x.IsDarkMode)), TimeSpan.FromSeconds(10));
    }

    protected override async ValueTask DisposeAsyncCore()
    {
        await _probe.StopAsync(CancellationToken.None);
        _probe.Dispose();
        await _dataSource.DisposeAsync();
        await _cluster.DestroyAsync();
        Directory.Delete(_folder, recursive: true);
        await base.DisposeAsyncCore();
    }
}
