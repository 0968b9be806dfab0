using System.Security.Claims;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Auth;
using OpsConsole.Components.Pages.Overview;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Overview;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Overview;

/// <summary>The live overview over the real Core: a push reaches only a user who may still see it.</summary>
public sealed class OverviewDisableTests(MarketplaceDatabase database) : ConsoleBunitContext, IClassFixture<MarketplaceDatabase>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    protected override Task ConfigureAsync()
    {
        Services.AddOpsConsoleCoreFor(database.SuperuserConnectionString);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_disabled_accounts_open_overview_stops_at_the_next_push_and_goes_to_sign_in()
    {
        var accounts = Services.GetRequiredService<AccountService>();
        await accounts.UpsertAsync("olivia-overview", OpsRoles.Manager, "a long enough passphrase", CancellationToken.None);
        var account = (await accounts.FindAsync("olivia-overview", CancellationToken.None))!;
        SignIn(LocalSignIn(account));
        var overview = Services.GetRequiredService<OverviewService>();
        var navigation = Services.GetRequiredService<NavigationManager>();
        var page = Render<OverviewPage>();
        await page.WaitForAssertionAsync(() => Assert.Equal(1, overview.SubscriberCount), Deadline);

        // While enabled, pushes keep coming and the page stays.
        await overview.RefreshAsync(CancellationToken.None);
        Assert.Equal(1, overview.SubscriberCount);
        Assert.DoesNotContain("/login", navigation.Uri);

        Assert.True(await accounts.DisableAsync("olivia-overview", CancellationToken.None));
        await overview.RefreshAsync(CancellationToken.None);

        await page.WaitForAssertionAsync(() => Assert.EndsWith("/login?ReturnUrl=%2F", navigation.Uri), Deadline);
        Assert.Equal(0, overview.SubscriberCount);
    }

    private static ClaimsPrincipal LocalSignIn(OpsAccount account) => new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.Name, account.UserName),
            new Claim(ClaimTypes.Role, account.Role),
            new Claim(OpsClaims.Source, OpsClaims.LocalSource),
            new Claim(OpsClaims.AccountId, account.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ],
        "test", ClaimTypes.Name, ClaimTypes.Role));
}
