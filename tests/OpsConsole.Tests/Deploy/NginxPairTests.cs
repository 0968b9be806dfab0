using System.Diagnostics;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static OpsConsole.Tests.Deploy.PublishedConsoleFixture;

namespace OpsConsole.Tests.Deploy;

/// <summary>
/// Two published consoles on one database behind Debian's nginx running deploy/nginx.conf (HTTPS, cookie-hash
/// stickiness, WebSocket upgrade, forwarded headers the consoles trust from 127.0.0.1 only). A browser signs in
/// through nginx; that its circuit goes interactive at all shows the forwarded scheme was believed, since the console
/// compares the circuit's https Origin with the scheme it sees.
/// </summary>
public sealed class NginxPairTests(NginxPairTests.Pair pair, ITestOutputHelper output) : IClassFixture<NginxPairTests.Pair>
{
    private static readonly TimeSpan FailOverDeadline = TimeSpan.FromSeconds(90);

    /// <summary>A change on one console reaches the other's page through the database (LISTEN/NOTIFY), then its circuit.</summary>
    private static readonly LocatorAssertionsToHaveAttributeOptions AcrossConsoles = new() { Timeout = 30_000 };

    [Fact]
    public async Task A_session_through_nginx_sees_both_consoles_and_outlives_the_one_serving_it()
    {
        var run = $"/deployments/{pair.RunId}";
        await using var throughProxy = await pair.Browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true });
        var page = await throughProxy.NewPageAsync();
        page.Console += (_, message) => output.WriteLine($"browser: {message.Text}");
        await SignInAsync(page, pair.Proxy.BaseUrl, run);
        var servingPort = pair.Proxy.LastUpstreamPortOf("/_blazor/negotiate")
            ?? throw new InvalidOperationException("nginx logged no circuit:\n" + pair.Proxy.Log);
        var serving = pair.Consoles.Single(c => c.Port == servingPort);
        var other = pair.Consoles.Single(c => c.Port != servingPort);
        output.WriteLine($"circuit on {serving.Port}, the other console is {other.Port}");

        // A second browser on the other console directly, open before the tick: it learns of it from the database.
        await using var direct = await pair.Browser.NewContextAsync();
        var otherPage = await direct.NewPageAsync();
        await SignInAsync(otherPage, other.BaseUrl, run);
        await Assertions.Expect(Row(otherPage, pair.FirstItem)).ToHaveAttributeAsync("data-state", "unchecked");

        await Row(page, pair.FirstItem).GetByTestId("item-check").ClickAsync();
        await Assertions.Expect(Row(page, pair.FirstItem)).ToHaveAttributeAsync("data-state", "checked");
        await Assertions.Expect(Row(otherPage, pair.FirstItem)).ToHaveAttributeAsync("data-state", "checked", AcrossConsoles);

        // The serving console goes away. The circuit's connection drops, Blazor reconnects through nginx, which sends
        // it to the other console; that one knows no such circuit, so the page reloads there, still signed in.
        await page.EvaluateAsync("() => { window.beforeFailOver = true; }");
        await serving.KillAsync();
        await WaitForReloadedAndInteractiveAsync(page);

        Assert.Equal(pair.Proxy.BaseUrl + run, page.Url);
        Assert.Equal(other.Port, pair.Proxy.LastUpstreamPortOf("/_blazor/negotiate"));
        await Assertions.Expect(Row(page, pair.FirstItem)).ToHaveAttributeAsync("data-state", "checked");

        // Still the same signed-in user, acting on the other console: a second tick, seen by the direct browser too.
        await Row(page, pair.SecondItem).GetByTestId("item-check").ClickAsync();
        await Assertions.Expect(Row(page, pair.SecondItem)).ToHaveAttributeAsync("data-state", "checked");
        await Assertions.Expect(Row(otherPage, pair.SecondItem)).ToHaveAttributeAsync("data-state", "checked", AcrossConsoles);
        await Assertions.Expect(Row(page, pair.SecondItem).GetByTestId("item-by")).ToContainTextAsync($"by {UserName}");
    }

    /// <summary>Until the page is a new document (the marker set on the old one is gone) whose circuit is interactive.</summary>
    private async Task WaitForReloadedAndInteractiveAsync(IPage page)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await page.EvaluateAsync<bool>(
                        "() => window.beforeFailOver === undefined && document.querySelector('[data-interactive=true]') !== null"))
                {
                    return;
                }
            }
            catch (PlaywrightException)
            {
                // The document is being replaced; ask the new one.
            }

            if (deadline.Elapsed > FailOverDeadline)
            {
                throw new TimeoutException($"The page did not come back interactive within {FailOverDeadline} of losing its console:\n{pair.Proxy.Log}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }
    }

    /// <summary>Two published consoles over the class's database, nginx in front of them.</summary>
    public sealed class Pair : PublishedConsoleFixture
    {
        public IReadOnlyList<PublishedConsole> Consoles { get; private set; } = [];

        public NginxProxy Proxy { get; private set; } = null!;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            // nginx connects from 127.0.0.1: the only address whose X-Forwarded-* the consoles believe.
            var settings = new Dictionary<string, string> { ["Hosting__KnownProxies__0"] = "127.0.0.1" };
            Consoles = await Task.WhenAll(
                PublishedConsole.StartAsync(Database.ConnectionString, settings), PublishedConsole.StartAsync(Database.ConnectionString, settings));
            Proxy = await NginxProxy.StartAsync([.. Consoles.Select(c => c.Port)]);
        }

        public override async Task DisposeAsync()
        {
            if (Proxy is not null)
            {
                await Proxy.DisposeAsync();
            }

            foreach (var console in Consoles)
            {
                await console.DisposeAsync();
            }

            await base.DisposeAsync();
        }
    }
}
