using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Accounts;
using OpsConsole.Endpoints;
using OpsConsole.Tests.Credits;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Security;

/// <summary>
/// Cross-site requests on the credit API: every change takes JSON (415 otherwise) from the console's own Origin or with
/// the antiforgery token (403 otherwise), and a refused request writes nothing. The sign-in cookie is SameSite=Strict.
/// Seen failing before the change: approve, reject, reverse and create accepted text/plain from a foreign Origin
/// (200/201), and the cookie was SameSite=Lax.
/// </summary>
public sealed class CreditApiOriginTests(ConsoleAppFixture app) : IClassFixture<ConsoleAppFixture>, IAsyncLifetime
{
    private const string Foreign = "http://127.0.0.1:1";

    private NpgsqlDataSource DataSource => app.Database.DataSource;

    public async Task InitializeAsync() =>
        await app.Factory.Services.GetRequiredService<AccountService>().UpsertAsync("support2", OpsRoles.Support, ConsoleAppFixture.Password, CancellationToken.None);

    public Task DisposeAsync() => Task.CompletedTask;

    public static TheoryData<string> Changes => new() { "create", "approve", "reject", "reverse" };

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task A_text_plain_body_is_refused_with_415_and_writes_nothing(string change)
    {
        var (client, path, body) = await PrepareAsync(change);
        var written = await CreditRows.WrittenAsync(DataSource);
        using var response = await SendAsync(client, path, body, "text/plain", Own);
        await AssertRefusedAsync(response, HttpStatusCode.UnsupportedMediaType, "application/json", written);
    }

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task A_request_from_another_origin_is_refused_with_403_and_writes_nothing(string change)
    {
        var (client, path, body) = await PrepareAsync(change);
        var token = await client.AntiforgeryTokenAsync();
        var written = await CreditRows.WrittenAsync(DataSource);
        using var response = await SendAsync(client, path, body, "application/json", Foreign, antiforgery: token);
        await AssertRefusedAsync(response, HttpStatusCode.Forbidden, "another site", written);
    }

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task A_request_without_origin_or_antiforgery_token_is_refused_with_403_and_writes_nothing(string change)
    {
        var (client, path, body) = await PrepareAsync(change);
        var written = await CreditRows.WrittenAsync(DataSource);
        using var response = await SendAsync(client, path, body, "application/json", origin: null);
        await AssertRefusedAsync(response, HttpStatusCode.Forbidden, "antiforgery token", written);
    }

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task Json_from_the_consoles_origin_is_accepted(string change)
    {
        var (client, path, body) = await PrepareAsync(change);
        using var response = await SendAsync(client, path, body, "application/json", Own);
        Assert.True(response.IsSuccessStatusCode, $"{change}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task Json_with_the_antiforgery_token_and_no_origin_is_accepted(string change)
    {
        var (client, path, body) = await PrepareAsync(change);
        using var response = await SendAsync(client, path, body, "application/json", origin: null, antiforgery: await client.AntiforgeryTokenAsync());
        Assert.True(response.IsSuccessStatusCode, $"{change}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task Every_state_changing_api_endpoint_but_the_webhook_refuses_another_origin()
    {
        using var client = await ClientAsync(OpsRoles.Support);
        var changes = app.Factory.Services.GetServices<EndpointDataSource>().SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api", StringComparison.Ordinal) == true
                && e.RoutePattern.RawText != StripeEndpoints.WebhookPath
                && (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"]).Any(m => m is not ("GET" or "HEAD" or "OPTIONS")))
            .ToList();
        Assert.NotEmpty(changes);
        var written = await CreditRows.WrittenAsync(DataSource);

        foreach (var endpoint in changes)
        {
            var path = endpoint.RoutePattern.RawText!.Replace("{id:long}", "1").Replace("{workspaceId:guid}", Guid.NewGuid().ToString());
            var method = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods.FirstOrDefault() ?? "POST";
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent("{}", Encoding.UTF8, "text/plain") };
            request.Headers.Add("Origin", Foreign);
            using var response = await client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {path}: {(int)response.StatusCode}");
        }

        Assert.Equal(written, await CreditRows.WrittenAsync(DataSource));
    }

    [Fact]
    public async Task The_sign_in_cookie_is_same_site_strict_and_signing_in_still_lands_on_the_page_asked_for()
    {
        using var client = SignInClient.Create(app.Factory);
        var form = await client.GetStringAsync("/login");
        Assert.Contains("__RequestVerificationToken", form, StringComparison.Ordinal);
        using var response = await client.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["userName"] = OpsRoles.Support,
            ["password"] = ConsoleAppFixture.Password,
            ["returnUrl"] = "/credits",
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(form, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value),
        }));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/credits", response.Headers.Location!.OriginalString);
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("OpsConsole.Auth=", StringComparison.Ordinal));
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        using var page = await client.GetAsync("/credits");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    [Fact]
    public async Task Signing_in_without_the_forms_antiforgery_token_is_refused()
    {
        using var client = SignInClient.Create(app.Factory);
        using var response = await client.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["userName"] = OpsRoles.Support,
            ["password"] = ConsoleAppFixture.Password,
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain(response.Headers.TryGetValues("Set-Cookie", out var set) ? set : [], c => c.StartsWith("OpsConsole.Auth=", StringComparison.Ordinal));
    }

    private string Own => app.Factory.Server.BaseAddress.GetLeftPart(UriPartial.Authority);

    // A signed-in client without a default Origin, the path of the change and its body, on a fresh workspace.
    private async Task<(HttpClient Client, string Path, string Body)> PrepareAsync(string change)
    {
        var workspace = await CreditRows.WorkspaceAsync(DataSource, 1000m, 1000m);
        var maker = await ClientAsync(OpsRoles.Support);
        var checker = await ClientAsync("support2");
        string Adjust(decimal delta) =>
            $$"""{"workspaceId":"{{workspace}}","expectedVersion":"{VERSION}","balanceDelta":{{delta}},"totalPurchasedDelta":{{delta}},"reason":"Top-up paid by invoice"}""";
        async Task<long> CreateAsync(decimal delta)
        {
            var version = (await maker.GetFromJsonAsync<JsonElement>($"/api/credits/workspaces/{workspace}")).GetProperty("version").GetString()!;
            using var created = await SendAsync(maker, CreditEndpoints.AdjustmentsPath, Adjust(delta).Replace("{VERSION}", version), "application/json", Own);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        }

        switch (change)
        {
            case "create":
                checker.Dispose();
                var version = (await maker.GetFromJsonAsync<JsonElement>($"/api/credits/workspaces/{workspace}")).GetProperty("version").GetString()!;
                return (Bare(maker), CreditEndpoints.AdjustmentsPath, Adjust(900m).Replace("{VERSION}", version));
            case "approve" or "reject":
                var pending = await CreateAsync(900m);
                maker.Dispose();
                return (Bare(checker), $"{CreditEndpoints.AdjustmentsPath}/{pending}/{change}", """{"reason":"Checked the bank statement"}""");
            default:
                var applied = await CreateAsync(10m);
                maker.Dispose();
                return (Bare(checker), $"{CreditEndpoints.AdjustmentsPath}/{applied}/reverse", """{"reason":"Invoice was cancelled"}""");
        }
    }

    private static HttpClient Bare(HttpClient client)
    {
        client.DefaultRequestHeaders.Remove("Origin");
        return client;
    }

    private async Task AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status, string message, (long, long, long) written)
    {
        Assert.Equal(status, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(message, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(written, await CreditRows.WrittenAsync(DataSource));
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string path, string body, string contentType, string? origin, string? antiforgery = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, contentType) };
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        if (antiforgery is not null)
        {
            request.Headers.Add("RequestVerificationToken", antiforgery);
        }

        return await client.SendAsync(request);
    }

    private async Task<HttpClient> ClientAsync(string userName)
    {
        var client = SignInClient.Create(app.Factory);
        await client.SignInAsync(userName, ConsoleAppFixture.Password);
        return client;
    }
}
