using System.Security.Claims;
using Microsoft.AspNetCore.Components.Authorization;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Actions;

namespace OpsConsole.Auth;

/// <summary>
/// Builds the <see cref="OpsActor"/> that Core services take, for each action, from the current sign-in. A local
/// account is read again each time, so its current role counts (a demoted, disabled or deleted account acts as
/// nobody at once, not at the next revalidation); a single sign-on user's role comes from the provider's claims.
/// Pages call <see cref="CurrentAsync"/>; endpoints call <see cref="ForAsync"/> with the request's user.
/// </summary>
public sealed class OpsActors(AccountService accounts, AuthenticationStateProvider authenticationState)
{
    /// <summary>The actor of the circuit's current sign-in (pages and components).</summary>
    public async Task<OpsActor> CurrentAsync(CancellationToken cancellationToken)
    {
        var state = await authenticationState.GetAuthenticationStateAsync();
        return await ForAsync(state.User, cancellationToken);
    }

    /// <summary>The actor for <paramref name="user"/>, with permissions as they are now.</summary>
    public async Task<OpsActor> ForAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (user.Identity?.IsAuthenticated != true || user.Identity.Name is not { Length: > 0 } name)
        {
            return OpsActor.Nobody;
        }

        if (user.IsLocalAccount())
        {
            var account = await accounts.FindAsync(name, cancellationToken);
            return account is null || account.IsDisabled
                ? OpsActor.Nobody
                : new OpsActor($"local:{account.Id}", account.UserName, account.Role, OpsPermissionTable.For(account.Role));
        }

        // Single sign-on: issuer plus subject is the identity the provider guarantees stable; the name is only shown.
        var subject = user.FindFirst("sub") ?? user.FindFirst(ClaimTypes.NameIdentifier);
        if (subject is null)
        {
            return OpsActor.Nobody;
        }

        var role = user.ConsoleRole();
        return new OpsActor($"oidc:{subject.Issuer}|{subject.Value}", name, role, OpsPermissionTable.For(role));
    }
}
