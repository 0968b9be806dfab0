using System.Globalization;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Playwright;
using OpsConsole.Core.Accounts;
using OpsConsole.Testing;
using OpsConsole.Tests.Browser;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Search;

/// <summary>The app bar's search box, in Chromium: each kind of id lands on the page that shows it.</summary>
public sealed class SearchBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private IBrowserContext? _context;
    private IPage _page = null!;
    private SearchScene _scene = null!;

    public async Task InitializeAsync()
    {
        _scene = await SearchScene.CreateAsync(browser.Database.DataSource, $"b{Guid.NewGuid():N}"[..9]);
        _context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1440, Height = 900 } });
        _page = await _context.NewPageAsync();
        await _page.GotoAsync($"{browser.BaseUrl}/");
        await _page.GetByLabel("User name").FillAsync(OpsRoles.Support);
        await _page.GetByLabel("Password").FillAsync(ConsoleAppFixture.Password);
        await _page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(_page.Locator("[data-interactive=true]")).ToBeAttachedAsync();
    }

    public async Task DisposeAsync()
    {
        if (_context is not null)
        {
            await _context.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_search_box_lands_on_the_page_of_each_kind_of_id()
    {
        await SearchAsync(_scene.PurchaseId.ToString());
        await Assertions.Expect(_page).ToHaveURLAsync($"{browser.BaseUrl}/purchases/{_scene.PurchaseId}");
        await Assertions.Expect(_page.GetByTestId("purchase-status")).ToHaveTextAsync("completed");
        await Assertions.Expect(_page.GetByTestId("purchase-delivery")).ToHaveCountAsync(1);
        await Assertions.Expect(_page.GetByTestId("purchase-audit-row")).ToHaveCountAsync(1);

        await SearchAsync(_scene.BoughtLeadId.ToString());
        await Assertions.Expect(_page).ToHaveURLAsync($"{browser.BaseUrl}/purchases/{_scene.PurchaseId}?lead={_scene.BoughtLeadId}");
        await Assertions.Expect(_page.Locator($"[data-testid=purchase-item][data-lead='{_scene.BoughtLeadId}']")).ToHaveClassAsync(new Regex("search-hit"));

        await SearchAsync(_scene.BuyerId.ToString());
        await Assertions.Expect(_page).ToHaveURLAsync($"{browser.BaseUrl}/workspaces/{_scene.BuyerId}");
        await Assertions.Expect(_page.GetByTestId("workspace-name")).ToHaveTextAsync(_scene.BuyerName);

        await SearchAsync(_scene.BuyerName.ToUpperInvariant());
        await Assertions.Expect(_page).ToHaveURLAsync($"{browser.BaseUrl}/workspaces/{_scene.BuyerId}");
        await Assertions.Expect(_page.GetByTestId("workspace-fix-credits")).ToHaveAttributeAsync("href", $"credits?workspace={_scene.BuyerId}");

        await SearchAsync(_scene.EventId);
        await Assertions.Expect(_page).ToHaveURLAsync($"{browser.BaseUrl}/stripe?event={_scene.EventId}");

        await SearchAsync(_scene.PaymentIntentId);
        await Assertions.Expect(_page).ToHaveURLAsync($"{browser.BaseUrl}/purchases/{_scene.PurchaseId}");

        await using var held = await browser.Database.DataSource.OpenConnectionAsync();
        var pid = (await held.ExecuteScalarAsync<int>("SELECT pg_backend_pid()")).ToString(CultureInfo.InvariantCulture);
        await SearchAsync(pid);
        await Assertions.Expect(_page).ToHaveURLAsync($"{browser.BaseUrl}/locks?pid={pid}");
        await Assertions.Expect(_page.GetByTestId("pid-focus")).ToContainTextAsync($"Backend {pid} is not waiting or blocking now");
        await _page.ScreenshotAsync(new() { Path = BrowserFixture.ArtifactPath("search-pid.png") });
    }

    [Fact]
    public async Task A_name_of_several_workspaces_lists_them_and_nothing_found_says_so()
    {
        await SearchAsync(_scene.TwinWord);
        await Assertions.Expect(_page.GetByTestId("search-choice")).ToHaveCountAsync(2);
        await _page.GetByTestId("search-choice").Filter(new() { HasText = "Seller" }).ClickAsync();
        await Assertions.Expect(_page).ToHaveURLAsync($"{browser.BaseUrl}/workspaces/{_scene.SellerId}");
        // A choice is a link: the workspace page may come prerendered first, where a key press does nothing yet.
        await Assertions.Expect(_page.Locator("[data-interactive=true]")).ToBeAttachedAsync();

        await SearchAsync("'; drop table workspaces; --");
        await Assertions.Expect(_page.GetByTestId("search-message")).ToContainTextAsync("Nothing found for");
    }

    private async Task SearchAsync(string text)
    {
        var box = _page.GetByTestId("search-box");
        await box.FillAsync(text);
        await box.PressAsync("Enter");
    }
}
