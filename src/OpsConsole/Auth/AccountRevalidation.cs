using OpsConsole.Core.Database;
using System.Globalization;
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
/// A sign-in stays good while its row of <c>ops.sessions</c> exists, it is younger than
/// <see cref="AccountOptions.MaxSessionLifetime"/> and, for a local account, while the account exists, is not disabled
/// and has the security stamp the sign-in was given. A password reset (<c>users add</c>), a role change or
/// <c>users disable</c> gives the account a new stamp, which deletes its session rows: a cookie is refused at its next
/// request (the ticket store reads the row every time), an open page within <see cref="AccountOptions.RevalidationInterval"/>.
/// A lockout does not end sessions, or anyone could sign a user out by guessing wrong five times.
/// </summary>
public sealed class AccountRevalidation(AccountService accounts, SessionStore sessions, DatabaseStatus databaseStatus, IOptions<AccountOptions> options, TimeProvider time)
{
    public TimeSpan Interval => options.Value.RevalidationInterval;

    private TimeSpan MaxSessionLifetime => options.Value.MaxSessionLifetime;

    private DateTimeOffset Now => time.GetUtcNow();

    private const string ValidatedAtKey = "opsconsole:validated-at";

    public async Task<bool> IsStillValidAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (user.Identity?.IsAuthenticated != true)
        {
            return true;
        }

        // A sign-in without its time is older than the claim: it is over too.
        if (user.SignedInAtTime() is not { } signedInAt || Now - signedInAt >= MaxSessionLifetime)
        {
            return false;
        }

        // A sign-in is a row of ops.sessions (PostgresTicketStore): signed out, or ended by a new stamp, it is gone.
        if (user.SessionKey() is not { } session)
        {
            return false;
        }

        try
        {
            if (!await sessions.IsActiveAsync(session, Now, cancellationToken))
            {
                return false;
            }

            if (!user.IsLocalAccount())
            {
                return true;
            }

            if (user.Identity.Name is not { } name)
            {
                return false;
            }

            var account = await accounts.FindAsync(name, cancellationToken);
            return account is { IsDisabled: false }
                && account.Role == user.ConsoleRole()
                && user.FindFirst(OpsClaims.SecurityStamp)?.Value == account.SecurityStamp.ToString("N");
        }
        catch (Exception ex) when (DatabasePing.IsDatabaseFailure(ex))
        {
            // Signing everybody out because the database is down would only add to the trouble.
            databaseStatus.ReportFailure(ex);
            return true;
        }
    }

    /// <summary>Cookie event: re-checks the sign-in at most once per <see cref="Interval"/>.</summary>
    public static async Task ValidateCookieAsync(CookieValidatePrincipalContext context)
    {
        if (context.Principal is not { } user)
        {
            return;
        }

        var revalidation = context.HttpContext.RequestServices.GetRequiredService<AccountRevalidation>();
        var now = revalidation.Now;
        if (context.Properties.Items.TryGetValue(ValidatedAtKey, out var last)
            && DateTimeOffset.TryParse(last, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var validatedAt)
            && now - validatedAt < revalidation.Interval
            && user.SignedInAtTime() is { } signedInAt
            && now - signedInAt < revalidation.MaxSessionLifetime)
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
