using System.Net;
using System.Security.Claims;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using OpsConsole.Auth;
using OpsConsole.Core.Accounts;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.App;

/// <summary>
/// Issue 11, sessions: a password reset, a role change or disabling an account ends its sessions (cookies and open
/// pages), a sign-in ends at Accounts:MaxSessionLifetime however active, and signing out needs the antiforgery token.
/// The app's clock is a FakeTimeProvider, so the lifetime is crossed by advancing it.
/// Seen failing before the change: the cookie outlived a password reset of the same role (200, not 401) and a
/// session 12.5 hours old was still served; an open page kept its user after the reset (no state change within
/// 10 s); a bare POST /account/logout signed the user out (302, not 400).
/// </summary>
public sealed class SessionTests(SessionTests.WithClock app) : IClassFixture<SessionTests.WithClock>
{
    private const string SignedInOnly = "/api/credits/drift";

    public sealed class WithClock : ConsoleAppFixture
    {
        public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

        protected override void BeforeStart(ConsoleAppFactory factory) =>
            factory.TestServices = services => services.AddSingleton<TimeProvider>(Clock);
    }

    private AccountService Accounts => app.Factory.Services.GetRequiredService<AccountService>();

    [Fact]
    public async Task A_password_reset_ends_the_accounts_sessions_even_with_the_same_role()
    {
        await Accounts.UpsertAsync("reset-me", OpsRoles.Support, ConsoleAppFixture.Password, CancellationToken.None);
        using var client = SignInClient.Create(app.Factory);
        await client.SignInAsync("reset-me", ConsoleAppFixture.Password);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client));

        await Accounts.UpsertAsync("reset-me", OpsRoles.Support, "a brand new password", CancellationToken.None);

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client));
    }

    [Fact]
    public async Task A_disabled_account_loses_its_sessions_and_cannot_sign_in_until_enabled_again()
    {
        await Accounts.UpsertAsync("disable-me", OpsRoles.Engineer, ConsoleAppFixture.Password, CancellationToken.None);
        using var client = SignInClient.Create(app.Factory);
        await client.SignInAsync("disable-me", ConsoleAppFixture.Password);

        Assert.True(await Accounts.DisableAsync("disable-me", CancellationToken.None));

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client));
        Assert.Equal("/login?error=invalid", (await client.SignInAsync("disable-me", ConsoleAppFixture.Password)).OriginalString);
        await Accounts.UpsertAsync("disable-me", OpsRoles.Engineer, ConsoleAppFixture.Password, CancellationToken.None);
        Assert.Equal("/", (await client.SignInAsync("disable-me", ConsoleAppFixture.Password)).OriginalString);
    }

    [Fact]
    public async Task An_open_page_is_signed_out_at_its_next_revalidation_after_a_password_reset()
    {
        await Accounts.UpsertAsync("open-page", OpsRoles.Manager, ConsoleAppFixture.Password, CancellationToken.None);
        var account = (await Accounts.SignInAsync("open-page", ConsoleAppFixture.Password, CancellationToken.None)).Account!;
        using var provider = new AccountRevalidatingAuthenticationStateProvider(
            app.Factory.Services.GetRequiredService<ILoggerFactory>(), app.Factory.Services.GetRequiredService<AccountRevalidation>());
        provider.SetAuthenticationState(Task.FromResult(new AuthenticationState(AuthenticationSetup.CreateLocalPrincipal(account, app.Clock.GetUtcNow()))));
        var changed = new TaskCompletionSource<ClaimsPrincipal>(TaskCreationOptions.RunContinuationsAsynchronously);
        provider.AuthenticationStateChanged += async state => changed.TrySetResult((await state).User);

        await Accounts.UpsertAsync("open-page", OpsRoles.Manager, "a brand new password", CancellationToken.None);

        // The provider re-checks every second here (Accounts:RevalidationInterval is 0 in tests; its floor is 1 s).
        var user = await changed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(user.Identity?.IsAuthenticated);
    }

    [Fact]
    public async Task A_session_ends_at_its_maximum_lifetime_however_active_its_user()
    {
        using var client = SignInClient.Create(app.Factory);
        await client.SignInAsync(OpsRoles.Admin, ConsoleAppFixture.Password);

        // Each request renews the eight-hour sliding cookie; the twelve hours since sign-in do not start again.
        app.Clock.Advance(TimeSpan.FromHours(5));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client));
        app.Clock.Advance(TimeSpan.FromHours(5));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client));
        app.Clock.Advance(TimeSpan.FromHours(2.5));

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client));
    }

    [Fact]
    public async Task Signing_out_without_the_antiforgery_token_is_refused_and_the_session_stays()
    {
        using var client = SignInClient.Create(app.Factory);
        await client.SignInAsync(OpsRoles.Support, ConsoleAppFixture.Password);

        using var response = await client.PostAsync("/account/logout", new FormUrlEncodedContent([]));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client));
    }

    [Fact]
    public async Task Signing_out_with_the_antiforgery_token_of_the_page_ends_the_session()
    {
        using var client = SignInClient.Create(app.Factory);
        await client.SignInAsync(OpsRoles.Engineer, ConsoleAppFixture.Password);
        var page = await client.GetStringAsync("/");
        var token = Regex.Match(page, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(token);

        using var response = await client.PostAsync(
            "/account/logout", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token) }));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/login", response.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(client));
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client)
    {
        using var response = await client.GetAsync(SignedInOnly);
        return response.StatusCode;
    }
}
