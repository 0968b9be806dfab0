using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.App;

public sealed class SignInRateLimitTests(SignInRateLimitTests.ThreeAttemptsPerMinute app) : IClassFixture<SignInRateLimitTests.ThreeAttemptsPerMinute>
{
    public sealed class ThreeAttemptsPerMinute : ConsoleAppFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings { get; } =
            new Dictionary<string, string?> { ["Accounts:SignInAttemptsPerMinute"] = "3" };
    }

    [Fact]
    public async Task Sign_in_attempts_beyond_the_limit_are_turned_away_before_any_password_check()
    {
        using var client = SignInClient.Create(app.Factory);

        for (var attempt = 0; attempt < 3; attempt++)
        {
            Assert.Equal("/login?error=invalid", (await client.SignInAsync("admin", "wrong")).OriginalString);
        }

        var fourth = await client.SignInAsync("admin", ConsoleAppFixture.Password);

        Assert.Equal("/login?error=throttled", fourth.OriginalString);
    }
}
