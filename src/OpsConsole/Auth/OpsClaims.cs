using System.Security.Claims;

namespace OpsConsole.Auth;

public static class OpsClaims
{
    /// <summary>Where the sign-in came from: <see cref="LocalSource"/> for an <c>ops.accounts</c> password.</summary>
    public const string Source = "opsconsole:source";

    public const string LocalSource = "local";

    /// <summary>The role to show for a user: the first of the console's roles they hold.</summary>
    public static string? ConsoleRole(this ClaimsPrincipal user) =>
        Core.Accounts.OpsRoles.All.FirstOrDefault(user.IsInRole);

    public static bool IsLocalAccount(this ClaimsPrincipal user) => user.FindFirst(Source)?.Value == LocalSource;
}
