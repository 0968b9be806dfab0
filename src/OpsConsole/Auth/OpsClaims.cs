using System.Security.Claims;

namespace OpsConsole.Auth;

public static class OpsClaims
{
    /// <summary>The role to show for a user: the first of the console's roles they hold.</summary>
    public static string? ConsoleRole(this ClaimsPrincipal user) =>
        Core.Accounts.OpsRoles.All.FirstOrDefault(user.IsInRole);
}
