using OpsConsole.Core.Accounts;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.App;

/// <summary>
/// The sign-in form's return URL is the user's to choose, so an attacker's link can carry one: the console only ever
/// sends the browser back to a page of its own, never to another site (an open redirect), whether the sign-in
/// succeeds or fails.
/// </summary>
public sealed class SignInReturnUrlTests(ConsoleAppFixture app) : IClassFixture<ConsoleAppFixture>
{
    public static TheoryData<string> ForeignUrls => new()
    {
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example/phish",
        "\\\\evil.example/phish",
        "https:evil.example",
        "javascript:alert(1)",
        "/account/logout",
    };

    [Theory]
    [MemberData(nameof(ForeignUrls))]
    public async Task A_successful_sign_in_with_a_foreign_return_url_lands_on_the_overview(string returnUrl)
    {
        using var client = SignInClient.Create(app.Factory);

        var location = await client.SignInAsync(OpsRoles.Manager, ConsoleAppFixture.Password, returnUrl);

        Assert.Equal("/", location.OriginalString);
    }

    [Theory]
    [MemberData(nameof(ForeignUrls))]
    public async Task A_failed_sign_in_does_not_carry_a_foreign_return_url_back_to_the_form(string returnUrl)
    {
        using var client = SignInClient.Create(app.Factory);

        var location = await client.SignInAsync("nobody-" + Guid.NewGuid().ToString("N"), "wrong password", returnUrl);

        Assert.Equal("/login?error=invalid", location.OriginalString);
    }

    [Fact]
    public async Task A_return_url_within_the_console_is_kept_through_a_failed_sign_in()
    {
        using var client = SignInClient.Create(app.Factory);

        var location = await client.SignInAsync("nobody-" + Guid.NewGuid().ToString("N"), "wrong password", "/purchases?window=1h");

        Assert.Equal("/login?error=invalid&ReturnUrl=%2Fpurchases%3Fwindow%3D1h", location.OriginalString);
    }
}
