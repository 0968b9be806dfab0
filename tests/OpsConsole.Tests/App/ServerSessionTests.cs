using System.Net;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Accounts;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.App;

/// <summary>
/// Sessions are rows of <c>ops.sessions</c>: a copy of the sign-in cookie stops working the moment its user signs out,
/// is disabled or changes role, on this console and on a second console over the same database. The revalidation
/// interval is the default minute here, so nothing but the session row can end the copy at once.
/// Seen failing before the change: after sign-out, disable and role change the copied cookie still got 200 on
/// /api/credits/drift and the page /credits.
/// </summary>
public sealed class ServerSessionTests(ServerSessionTests.TwoInstances app) : IClassFixture<ServerSessionTests.TwoInstances>
{
    private const string Api = "/api/credits/drift";
    private const string Page = "/credits";

    public sealed class TwoInstances : ConsoleAppFixture
    {
        private static readonly Dictionary<string, string?> Defaults = new() { ["Accounts:RevalidationInterval"] = "00:01:00" };

        private ConsoleAppFactory? _second;

        protected override IReadOnlyDictionary<string, string?> Settings => Defaults;

        /// <summary>A second console on the same database, as behind a load balancer.</summary>
        public ConsoleAppFactory Second => _second ?? throw new InvalidOperationException("Not initialised.");

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            _second = new ConsoleAppFactory(
                Database.ConnectionString,
                new Dictionary<string, string?>(Defaults) { ["ConnectionStrings:MarketplaceMigrations"] = Database.SuperuserConnectionString });
            _ = _second.Server;
        }

        public override async Task DisposeAsync()
        {
            if (_second is not null)
            {
                await _second.DisposeAsync();
            }

            await base.DisposeAsync();
        }
    }

    private AccountService Accounts => app.Factory.Services.GetRequiredService<AccountService>();

    [Fact]
    public async Task A_copied_cookie_is_refused_after_sign_out_here_and_on_the_second_console()
    {
        await Accounts.UpsertAsync("signs-out", OpsRoles.Support, ConsoleAppFixture.Password, CancellationToken.None);
        var (victim, cookies) = await SignInAsync(app.Factory, "signs-out");
        using var copy = CopyOf(app.Factory, cookies);
        using var copyOnSecond = CopyOf(app.Second, cookies);
        await AssertSignedInAsync(copy);
        await AssertSignedInAsync(copyOnSecond);

        var token = await victim.AntiforgeryTokenAsync();
        using var logout = await victim.PostAsync("/account/logout", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token }));
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);

        await AssertSignedOutAsync(copy);
        await AssertSignedOutAsync(copyOnSecond);
        victim.Dispose();
    }

    [Fact]
    public async Task A_sign_out_on_the_second_console_ends_the_session_on_the_first()
    {
        await Accounts.UpsertAsync("signs-out-there", OpsRoles.Engineer, ConsoleAppFixture.Password, CancellationToken.None);
        var (victim, cookies) = await SignInAsync(app.Factory, "signs-out-there");
        using var onSecond = CopyOf(app.Second, cookies);
        var token = await onSecond.AntiforgeryTokenAsync();

        using var logout = await onSecond.PostAsync("/account/logout", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token }));
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);

        await AssertSignedOutAsync(victim);
        victim.Dispose();
    }

    [Fact]
    public async Task A_copied_cookie_is_refused_at_once_after_the_account_is_disabled()
    {
        await Accounts.UpsertAsync("gets-disabled", OpsRoles.Support, ConsoleAppFixture.Password, CancellationToken.None);
        var (victim, cookies) = await SignInAsync(app.Factory, "gets-disabled");
        victim.Dispose();
        using var copy = CopyOf(app.Factory, cookies);
        using var copyOnSecond = CopyOf(app.Second, cookies);
        await AssertSignedInAsync(copy);
        await AssertSignedInAsync(copyOnSecond);

        Assert.True(await Accounts.DisableAsync("gets-disabled", CancellationToken.None));

        await AssertSignedOutAsync(copy);
        await AssertSignedOutAsync(copyOnSecond);
    }

    [Fact]
    public async Task A_copied_cookie_is_refused_at_once_after_a_role_change()
    {
        await Accounts.UpsertAsync("changes-role", OpsRoles.Support, ConsoleAppFixture.Password, CancellationToken.None);
        var (victim, cookies) = await SignInAsync(app.Factory, "changes-role");
        victim.Dispose();
        using var copy = CopyOf(app.Factory, cookies);
        using var copyOnSecond = CopyOf(app.Second, cookies);
        await AssertSignedInAsync(copy);
        await AssertSignedInAsync(copyOnSecond);

        await Accounts.UpsertAsync("changes-role", OpsRoles.Manager, ConsoleAppFixture.Password, CancellationToken.None);

        await AssertSignedOutAsync(copy);
        await AssertSignedOutAsync(copyOnSecond);
    }

    [Fact]
    public async Task Another_sign_in_of_the_same_user_is_not_ended_by_a_sign_out()
    {
        var (first, _) = await SignInAsync(app.Factory, OpsRoles.Admin);
        var (second, _) = await SignInAsync(app.Second, OpsRoles.Admin);
        var token = await first.AntiforgeryTokenAsync();

        using var logout = await first.PostAsync("/account/logout", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token }));

        await AssertSignedOutAsync(first);
        await AssertSignedInAsync(second);
        first.Dispose();
        second.Dispose();
    }

    private static async Task<(HttpClient Client, CookieContainer Cookies)> SignInAsync(WebApplicationFactory<Program> factory, string userName)
    {
        var cookies = new CookieContainer();
        var client = Client(factory, cookies);
        await client.SignInAsync(userName, ConsoleAppFixture.Password);
        return (client, cookies);
    }

    // What a thief holds: the sign-in cookie, nothing else (no antiforgery cookie, no other state).
    private static HttpClient CopyOf(WebApplicationFactory<Program> factory, CookieContainer victim)
    {
        var copied = new CookieContainer();
        foreach (Cookie cookie in victim.GetAllCookies())
        {
            if (cookie.Name.StartsWith("OpsConsole.Auth", StringComparison.Ordinal))
            {
                copied.Add(new Cookie(cookie.Name, cookie.Value, "/", factory.Server.BaseAddress.Host));
            }
        }

        Assert.NotEmpty(copied.GetAllCookies());
        return Client(factory, copied);
    }

    private static HttpClient Client(WebApplicationFactory<Program> factory, CookieContainer cookies)
    {
        var client = factory.CreateDefaultClient(new CookieContainerHandler(cookies));
        client.DefaultRequestHeaders.Add("Origin", client.BaseAddress!.GetLeftPart(UriPartial.Authority));
        return client;
    }

    private static async Task AssertSignedInAsync(HttpClient client)
    {
        using var api = await client.GetAsync(Api);
        Assert.Equal(HttpStatusCode.OK, api.StatusCode);
        using var page = await client.GetAsync(Page);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    private static async Task AssertSignedOutAsync(HttpClient client)
    {
        using var api = await client.GetAsync(Api);
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        using var page = await client.GetAsync(Page);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Contains("/login?", page.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }
}
