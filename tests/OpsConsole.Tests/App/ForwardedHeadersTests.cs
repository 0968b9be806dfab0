using System.Net;
using Microsoft.AspNetCore.Http;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.App;

/// <summary>
/// Issue 11, behind a proxy: the sign-in limiter counts the real client. Requests go through the app's whole pipeline
/// (TestServer) with the TCP peer's address set as Kestrel would. Two sign-in posts a minute per client here; a post
/// without a form is refused later (antiforgery), so "not throttled" is anything but the throttled redirect.
/// Seen failing before the change: behind the configured proxy every forwarded client shared the proxy's budget, and
/// two addresses of one IPv6 /64 had a budget each.
/// </summary>
public sealed class ForwardedHeadersTests(ForwardedHeadersTests.BehindProxies app) : IClassFixture<ForwardedHeadersTests.BehindProxies>
{
    public sealed class BehindProxies : ConsoleAppFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
        {
            ["Accounts:SignInAttemptsPerMinute"] = "2",
            ["Hosting:KnownProxies:0"] = "10.0.0.0/8",
            ["Hosting:KnownProxies:1"] = "192.0.2.7",
        };
    }

    [Theory]
    [InlineData("10.20.30.40")]
    [InlineData("192.0.2.7")]
    public async Task Behind_a_configured_proxy_each_forwarded_client_has_its_own_sign_in_budget(string proxy)
    {
        var first = $"198.51.100.{(proxy.StartsWith("10.", StringComparison.Ordinal) ? 1 : 11)}";
        var second = $"198.51.100.{(proxy.StartsWith("10.", StringComparison.Ordinal) ? 2 : 12)}";

        Assert.False(await ThrottledAsync(app, proxy, first));
        Assert.False(await ThrottledAsync(app, proxy, first));
        Assert.True(await ThrottledAsync(app, proxy, first));
        Assert.False(await ThrottledAsync(app, proxy, second));
    }

    [Fact]
    public async Task X_Forwarded_For_from_an_address_that_is_not_a_configured_proxy_is_ignored()
    {
        Assert.False(await ThrottledAsync(app, "203.0.113.9", "198.51.100.21"));
        Assert.False(await ThrottledAsync(app, "203.0.113.9", "198.51.100.22"));

        Assert.True(await ThrottledAsync(app, "203.0.113.9", "198.51.100.23"));
    }

    [Fact]
    public async Task IPv6_clients_are_counted_by_their_64_bit_prefix()
    {
        Assert.False(await ThrottledAsync(app, "2001:db8:aa:1::1", null));
        Assert.False(await ThrottledAsync(app, "2001:db8:aa:1:ffff:ffff:ffff:ffff", null));

        Assert.True(await ThrottledAsync(app, "2001:db8:aa:1::2", null));
        Assert.False(await ThrottledAsync(app, "2001:db8:aa:2::1", null));
    }

    internal static async Task<bool> ThrottledAsync(ConsoleAppFixture app, string peer, string? forwardedFor)
    {
        var context = await app.Factory.Server.SendAsync(http =>
        {
            http.Request.Method = HttpMethods.Post;
            http.Request.Path = "/account/login";
            http.Connection.RemoteIpAddress = IPAddress.Parse(peer);
            if (forwardedFor is not null)
            {
                http.Request.Headers["X-Forwarded-For"] = forwardedFor;
            }
        });
        return context.Response.Headers.Location.ToString().Contains("error=throttled", StringComparison.Ordinal);
    }
}

/// <summary>Without Hosting:KnownProxies no forwarded header is believed, not even from loopback (the framework's default proxy).</summary>
public sealed class NoKnownProxiesTests(NoKnownProxiesTests.TwoAttemptsPerMinute app) : IClassFixture<NoKnownProxiesTests.TwoAttemptsPerMinute>
{
    public sealed class TwoAttemptsPerMinute : ConsoleAppFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings { get; } =
            new Dictionary<string, string?> { ["Accounts:SignInAttemptsPerMinute"] = "2" };
    }

    [Fact]
    public async Task Without_configured_proxies_X_Forwarded_For_is_ignored_even_from_loopback()
    {
        Assert.False(await ForwardedHeadersTests.ThrottledAsync(app, "127.0.0.1", "198.51.100.31"));
        Assert.False(await ForwardedHeadersTests.ThrottledAsync(app, "127.0.0.1", "198.51.100.32"));

        Assert.True(await ForwardedHeadersTests.ThrottledAsync(app, "127.0.0.1", "198.51.100.33"));
    }
}
