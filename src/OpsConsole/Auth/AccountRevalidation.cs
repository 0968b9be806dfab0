using OpsConsole.Core.Database;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Accounts;
using OpsConsole.Database;

namespace OpsConsole.Auth;

/// <summary>
/// A local sign-in stays good while its account exists with the same role: `users add` with another
/// role takes effect on open pages and cookies within <see cref="AccountOptions.RevalidationInterval"/>, not at
/// the cookie's expiry.
/// A lockout does not end sessions, or anyone could sign a user out by guessing wrong five times.
/// </summary>
public sealed class AccountRevalidation(AccountService accounts, DatabaseStatus databaseStatus, IOptions<AccountOptions> options)
{
    public TimeSpan Interval => options.Value.RevalidationInterval;

    private const string ValidatedAtKey = "opsconsole:validated-at";

    public async Task<bool> IsStillValidAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (!user.IsLocalAccount() || user.Identity?.Name is not { } name)
        {
            return true;
        }

        try
        {
            var account = await accounts.FindAsync(name, cancellationToken);
            return account is not null && account.Role == user.ConsoleRole();
        }
        catch (Exception ex) when (DatabasePing.IsDatabaseFailure(ex))
        {
            // Signing everybody out because the database is down would only add to the trouble.
            databaseStatus.ReportFailure(ex);
            return true;
        }
    }

    /// <summary>Cookie event: re-checks the account at most once per <see cref="Interval"/>.</summary>
    public static async Task ValidateCookieAsync(CookieValidatePrincipalContext context)
    {
        if (context.Principal is not { } user || !user.IsLocalAccount())
        {
            return;
        }

        var revalidation = context.HttpContext.RequestServices.GetRequiredService<AccountRevalidation>();
        var now = DateTimeOffset.UtcNow;
        if (context.Properties.Items.TryGetValue(ValidatedAtKey, out var last)
            && DateTimeOffset.TryParse(last, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var validatedAt)
            && now - validatedAt < revalidation.Interval)
        {
            return;
        }

        if (!await revalidation.IsStillValidAsync(user, context.HttpContext.RequestAborted))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return;
        }

        context.Properties.Items[ValidatedAtKey] = now.ToString("O");
        context.ShouldRenew = true;
    }
}

/// <summary>The same check for open pages: the circuit's user is re-checked every interval.</summary>
public sealed class AccountRevalidatingAuthenticationStateProvider(ILoggerFactory loggerFactory, AccountRevalidation revalidation)
    : RevalidatingServerAuthenticationStateProvider(loggerFactory)
{
    // At least a second: the base class loops on this delay.
    protected override TimeSpan RevalidationInterval =>
        revalidation.Interval > TimeSpan.FromSeconds(1) ? revalidation.Interval : TimeSpan.FromSeconds(1);

    protected override Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken) =>
        revalidation.IsStillValidAsync(authenticationState.User, cancellationToken);
}
