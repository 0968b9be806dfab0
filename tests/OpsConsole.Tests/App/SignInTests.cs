using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Accounts;
using OpsConsole.Endpoints;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.App;

public sealed class SignInTests(ConsoleAppFixture app) : IClassFixture<ConsoleAppFixture>
{
    [Theory]
    [InlineData("/")]
    [InlineData("/deployments")]
    [InlineData("/credits")]
    public async Task An_anonymous_page_request_is_sent_to_the_sign_in_page(string path)
    {
        using var client = SignInClient.Create(app.Factory);

        using var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/login", response.Headers.Location!.AbsolutePath);
        Assert.Contains($"ReturnUrl={Uri.EscapeDataString(path)}", response.Headers.Location.Query);
    }

    [Fact]
    public async Task An_anonymous_api_call_gets_401_not_a_redirect()
    {
        using var client = SignInClient.Create(app.Factory);

        using var response = await client.PostAsync(CreditEndpoints.AdjustmentsPath, EmptyJson());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_signed_in_user_goes_back_where_they_were_sent_from_and_sees_the_page()
    {
        using var client = SignInClient.Create(app.Factory);

        var location = await client.SignInAsync(OpsRoles.Engineer, ConsoleAppFixture.Password, "/locks");
        using var page = await client.GetAsync(location);

        Assert.Equal("/locks", location.OriginalString);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    [Fact]
    public async Task A_manager_calling_the_credit_adjustment_endpoint_directly_is_forbidden()
    {
        using var client = SignInClient.Create(app.Factory);
        await client.SignInAsync(OpsRoles.Manager, ConsoleAppFixture.Password);

        using var response = await client.PostAsync(CreditEndpoints.AdjustmentsPath, EmptyJson());

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Support_passes_the_credit_adjustment_policy()
    {
        using var client = SignInClient.Create(app.Factory);
        await client.SignInAsync(OpsRoles.Support, ConsoleAppFixture.Password);

        using var response = await client.PostAsync(CreditEndpoints.AdjustmentsPath, EmptyJson());

        // Past authorization, to the editor itself: an empty body is a bad request, not a refusal of the role.
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task A_role_taken_away_with_users_add_ends_the_old_cookie_rights()
    {
        var accounts = app.Factory.Services.GetRequiredService<AccountService>();
        await accounts.UpsertAsync("demote-me", OpsRoles.Support, ConsoleAppFixture.Password, CancellationToken.None);
        using var client = SignInClient.Create(app.Factory);
        await client.SignInAsync("demote-me", ConsoleAppFixture.Password);
        using (var before = await client.PostAsync(CreditEndpoints.AdjustmentsPath, EmptyJson()))
        {
            Assert.Equal(HttpStatusCode.BadRequest, before.StatusCode);
        }

        await accounts.UpsertAsync("demote-me", OpsRoles.Manager, ConsoleAppFixture.Password, CancellationToken.None);
        using var after = await client.PostAsync(CreditEndpoints.AdjustmentsPath, EmptyJson());

        // The cookie still says support, but the account no longer does: signed out, not served.
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task A_wrong_password_and_an_unknown_name_get_the_same_answer()
    {
        using var client = SignInClient.Create(app.Factory);

        var wrongPassword = await client.SignInAsync(OpsRoles.Admin, "not the password");
        var unknownName = await client.SignInAsync("nobody-by-this-name", ConsoleAppFixture.Password);

        Assert.Equal("/login?error=invalid", wrongPassword.OriginalString);
        Assert.Equal(wrongPassword, unknownName);
    }

    [Fact]
    public async Task An_account_locks_after_five_failures_and_then_refuses_even_the_right_password()
    {
        await app.Factory.Services.GetRequiredService<AccountService>()
            .UpsertAsync("lock-me", OpsRoles.Support, ConsoleAppFixture.Password, CancellationToken.None);
        using var client = SignInClient.Create(app.Factory);

        var answers = new List<string>();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            answers.Add((await client.SignInAsync("lock-me", $"guess {attempt}")).OriginalString);
        }

        var withRightPassword = await client.SignInAsync("lock-me", ConsoleAppFixture.Password);

        Assert.All(answers[..4], a => Assert.Equal("/login?error=invalid", a));
        Assert.Equal("/login?error=locked", answers[4]);
        Assert.Equal("/login?error=locked", withRightPassword.OriginalString);
    }

    [Fact]
    public async Task A_name_without_an_account_locks_the_same_way_so_the_lockout_does_not_reveal_which_names_exist()
    {
        using var client = SignInClient.Create(app.Factory);

        var answers = new List<string>();
        for (var attempt = 0; attempt < 6; attempt++)
        {
            answers.Add((await client.SignInAsync("no-such-account", $"guess {attempt}")).OriginalString);
        }

        Assert.All(answers[..4], a => Assert.Equal("/login?error=invalid", a));
        Assert.All(answers[4..], a => Assert.Equal("/login?error=locked", a));
    }

    [Fact]
    public async Task The_sign_in_form_is_refused_without_its_antiforgery_token()
    {
        using var client = SignInClient.Create(app.Factory);
        var fields = new Dictionary<string, string> { ["userName"] = OpsRoles.Admin, ["password"] = ConsoleAppFixture.Password };

        using var response = await client.PostAsync("/account/login", new FormUrlEncodedContent(fields));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task The_auth_cookie_is_http_only_and_same_site()
    {
        using var client = SignInClient.Create(app.Factory);
        var form = await client.GetStringAsync("/login");
        var token = System.Text.RegularExpressions.Regex.Match(form, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        var fields = new Dictionary<string, string>
        {
            ["userName"] = OpsRoles.Admin,
            ["password"] = ConsoleAppFixture.Password,
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token),
        };

        using var response = await client.PostAsync("/account/login", new FormUrlEncodedContent(fields));

        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("OpsConsole.Auth=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Pages_carry_a_content_security_policy_that_forbids_framing()
    {
        using var client = SignInClient.Create(app.Factory);

        using var response = await client.GetAsync("/login");

        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Contains("script-src 'self'", csp);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
    }

    // An empty JSON body: the credit API takes JSON only (415 otherwise), and answers the permission before the body.
    private static StringContent EmptyJson() => new("", System.Text.Encoding.UTF8, "application/json");
}
