using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Browser;

/// <summary>
/// The console on a real loopback port (Kestrel, not the in-memory test server) and Debian's Chromium
/// driven by Playwright. Playwright's own browser downloads are not used: <c>/usr/bin/chromium</c> is.
/// </summary>
public class BrowserFixture : ConsoleAppFixture
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public string BaseUrl { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install it with `apt-get install -y chromium` (test.sh does).");
        }

        await base.InitializeAsync();
        BaseUrl = Factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First().Replace("127.0.0.1", "localhost", StringComparison.Ordinal).TrimEnd('/');

        // Every expectation waits for its condition up to 10 s, not Playwright's 5 s: a sign-in followed by the Blazor
        // circuit going interactive took longer than 5 s on two cores shared with the rest of the suite.
        Assertions.SetDefaultExpectTimeout(10_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await LaunchChromiumAsync(_playwright);
    }

    /// <summary>Debian's Chromium, headless, as every browser test drives it.</summary>
    public static Task<IBrowser> LaunchChromiumAsync(IPlaywright playwright)
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install it with `apt-get install -y chromium` (test.sh does).");
        }

        return playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        });
    }

    protected override void BeforeStart(ConsoleAppFactory factory)
    {
        factory.UseKestrel(0);
        factory.StartServer();
    }

    /// <summary>A new page in <paramref name="context"/> at <paramref name="path"/>, signed in as <paramref name="userName"/>, its circuit interactive.</summary>
    public async Task<IPage> SignedInPageAsync(IBrowserContext context, string path, string userName, Action<string>? log = null)
    {
        var page = await context.NewPageAsync();
        if (log is not null)
        {
            page.Console += (_, message) => log($"browser {message.Type}: {message.Text}");
        }

        await page.GotoAsync($"{BaseUrl}{path}");
        await page.GetByLabel("User name").FillAsync(userName);
        await page.GetByLabel("Password").FillAsync(ConsoleAppFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        // A loaded machine: the circuit may take longer than the default 5 s to start.
        await Assertions.Expect(page.Locator("[data-interactive=true]")).ToBeAttachedAsync(new() { Timeout = 15_000 });
        return page;
    }

    /// <summary>Where browser tests keep their screenshots: <c>TestResults/playwright</c> at the repository root.</summary>
    public static string ArtifactPath(string fileName)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OpsConsole.sln")))
        {
            directory = directory.Parent;
        }

        var folder = Path.Combine(directory?.FullName ?? AppContext.BaseDirectory, "TestResults", "playwright");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, fileName);
    }

    public override async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await base.DisposeAsync();
    }
}
