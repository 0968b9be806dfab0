using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Accounts;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Accounts;

public sealed class PasswordPolicyTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Theory]
    [InlineData("short", "at least 12 characters")]
    [InlineData("frank-ops", "at least 12 characters")]
    [InlineData("frank-ops-lead", "must not be or contain the user name")]
    [InlineData("i am FRANK-OPS-LEAD really", "must not be or contain the user name")]
    [InlineData("administrator", "most common passwords")]
    [InlineData("QwErTy123456", "most common passwords")]
    public async Task A_weak_password_is_refused_with_its_reason_and_no_account_is_written(string password, string reason)
    {
        await using var services = TestServices.Build(database.ConnectionString);
        var accounts = services.GetRequiredService<AccountService>();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => accounts.UpsertAsync("frank-ops-lead", OpsRoles.Support, password, CancellationToken.None));

        Assert.Contains(reason, error.Message);
        Assert.Null(await accounts.FindAsync("frank-ops-lead", CancellationToken.None));
    }

    [Fact]
    public async Task The_demo_path_refuses_a_weak_password_too()
    {
        await using var services = TestServices.Build(database.ConnectionString);
        var accounts = services.GetRequiredService<AccountService>();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => accounts.UpsertDemoAsync("grace", OpsRoles.Support, "1q2w3e4r5t6y", CancellationToken.None));

        Assert.Contains("most common passwords", error.Message);
        Assert.Null(await accounts.FindAsync("grace", CancellationToken.None));
    }

    [Theory]
    [InlineData("correct horse battery")]
    [InlineData("Tr0ub4dor&3-extended")]
    public void A_long_uncommon_password_without_the_name_passes(string password) =>
        Assert.Null(PasswordPolicy.Problem("frank-ops-lead", password, 12));

    [Fact]
    public void A_one_or_two_letter_name_is_refused_only_as_the_whole_password()
    {
        Assert.Null(PasswordPolicy.Problem("jo", "a long passphrase jo likes", 12));
        Assert.NotNull(PasswordPolicy.Problem("jo", "JO", 2));
    }
}
