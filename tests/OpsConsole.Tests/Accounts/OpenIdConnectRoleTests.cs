using System.Security.Claims;
using OpsConsole.Auth;
using OpsConsole.Core.Accounts;

namespace OpsConsole.Tests.Accounts;

public sealed class OpenIdConnectRoleTests
{
    [Fact]
    public void Values_of_the_configured_claim_that_name_console_roles_become_roles()
    {
        var identity = new ClaimsIdentity(
            [new Claim("groups", "Manager"), new Claim("groups", "everyone"), new Claim("roles", "admin")],
            "oidc", "preferred_username", ClaimTypes.Role);
        var user = new ClaimsPrincipal(identity);

        AuthenticationSetup.AddConsoleRoles(user, "groups");

        Assert.True(user.IsInRole(OpsRoles.Manager));
        Assert.False(user.IsInRole("everyone"));
        Assert.False(user.IsInRole(OpsRoles.Admin));
    }
}
