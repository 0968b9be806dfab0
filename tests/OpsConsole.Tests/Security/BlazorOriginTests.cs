using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Accounts;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Security;

/// <summary>
/// The Blazor connection (<c>/_blazor</c>) opens only from the console's own origin, over every transport: a page of
/// another port on the same host is same-site, so the victim's cookie goes along, and before the check it started a
/// circuit as the victim. Against the app on a real Kestrel port, with a signed-in user's cookies.
/// Seen failing before the change: the foreign WebSocket was accepted (101), the foreign negotiate answered 200.
/// </summary>
public sealed class BlazorOriginTests(BlazorOriginTests.OnKestrel app) : IClassFixture<BlazorOriginTests.OnKestrel>
{
    private const string Foreign = "http://127.0.0.1:1";

    public sealed class OnKestrel : ConsoleAppFixture
    {
        public Uri BaseAddress { get; private set; } = null!;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            BaseAddress = new Uri(Factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        }

        protected override void BeforeStart(ConsoleAppFactory factory)
        {
            factory.UseKestrel(0);
            factory.StartServer();
        }
    }

    private string Own => app.BaseAddress.GetLeftPart(UriPartial.Authority);

    [Fact]
    public async Task A_websocket_from_another_origin_is_refused_and_one_from_the_console_is_accepted()
    {
        var cookies = await SignedInCookiesAsync();

        Assert.Equal(HttpStatusCode.Forbidden, await WebSocketStatusAsync(cookies, Foreign));
        Assert.Equal(HttpStatusCode.Forbidden, await WebSocketStatusAsync(cookies, "null"));
        // A client that is not a browser sends no Origin; it may not open a circuit either.
        Assert.Equal(HttpStatusCode.Forbidden, await WebSocketStatusAsync(cookies, origin: null));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await WebSocketStatusAsync(cookies, Own));
    }

    [Fact]
    public async Task Negotiate_from_another_origin_is_refused()
    {
        using var client = await SignedInClientAsync();

        using var foreign = await NegotiateAsync(client, Foreign);
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        using var none = await NegotiateAsync(client, origin: null);
        Assert.Equal(HttpStatusCode.Forbidden, none.StatusCode);
        using var own = await NegotiateAsync(client, Own);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Theory]
    [InlineData("*/*")]
    [InlineData("text/event-stream")]
    public async Task Long_polling_and_server_sent_events_from_another_origin_are_refused(string accept)
    {
        using var client = await SignedInClientAsync();
        using var negotiated = await NegotiateAsync(client, Own);
        var token = (await negotiated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("connectionToken").GetString();

        foreach (var (origin, site) in new[] { (Foreign, (string?)null), ((string?)null, "cross-site"), ((string?)null, "same-site") })
        {
            using var poll = new HttpRequestMessage(HttpMethod.Get, $"/_blazor?id={token}");
            poll.Headers.Accept.ParseAdd(accept);
            if (origin is not null)
            {
                poll.Headers.Add("Origin", origin);
            }

            if (site is not null)
            {
                poll.Headers.Add("Sec-Fetch-Site", site);
            }

            using var response = await client.SendAsync(poll, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }

        using var send = new HttpRequestMessage(HttpMethod.Post, $"/_blazor?id={token}") { Content = new ByteArrayContent([0x1e]) };
        send.Headers.Add("Origin", Foreign);
        using var sent = await client.SendAsync(send);
        Assert.Equal(HttpStatusCode.Forbidden, sent.StatusCode);
    }

    private async Task<HttpClient> SignedInClientAsync(CookieContainer? cookies = null)
    {
        var handler = new SocketsHttpHandler { CookieContainer = cookies ?? new CookieContainer(), AllowAutoRedirect = false };
        var client = new HttpClient(handler) { BaseAddress = app.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        await client.SignInAsync(OpsRoles.Support, ConsoleAppFixture.Password);
        return client;
    }

    private async Task<CookieContainer> SignedInCookiesAsync()
    {
        var cookies = new CookieContainer();
        using var _ = await SignedInClientAsync(cookies);
        return cookies;
    }

    private static Task<HttpResponseMessage> NegotiateAsync(HttpClient client, string? origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1") { Content = new StringContent("") };
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        return client.SendAsync(request);
    }

    private async Task<HttpStatusCode> WebSocketStatusAsync(CookieContainer cookies, string? origin)
    {
        using var socket = new ClientWebSocket();
        socket.Options.Cookies = cookies;
        socket.Options.CollectHttpResponseDetails = true;
        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        var uri = new UriBuilder(app.BaseAddress) { Scheme = "ws", Path = "/_blazor" }.Uri;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await socket.ConnectAsync(uri, deadline.Token);
        }
        catch (WebSocketException)
        {
            return socket.HttpStatusCode;
        }

        var status = socket.HttpStatusCode;
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", deadline.Token);
        return status;
    }
}
