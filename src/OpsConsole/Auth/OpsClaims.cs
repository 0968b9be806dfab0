using System.Globalization;
using System.Security.Claims;

namespace OpsConsole.Auth;

public static class OpsClaims
{
    /// <summary>Where the sign-in came from: <see cref="LocalSource"/> for an <c>ops.accounts</c> password.</summary>
    public const string Source = "opsconsole:source";

    public const string LocalSource = "local";

    /// <summary>The account's security stamp at sign-in; another stamp in the database ends the session.</summary>
    public const string SecurityStamp = "opsconsole:stamp";

    /// <summary>When the user signed in (Unix seconds): the start of <c>Accounts:MaxSessionLifetime</c>, which renewals do not move.</summary>
    public const string SignedInAt = "opsconsole:signed-in-at";

    /// <summary>The role to show for a user: the first of the console's roles they hold.</summary>
    public static string? ConsoleRole(this ClaimsPrincipal user) =>
        Core.Accounts.OpsRoles.All.FirstOrDefault(user.IsInRole);

    public static bool IsLocalAccount(this ClaimsPrincipal user) => user.FindFirst(Source)?.Value == LocalSource;

    public static Claim SignedInAtClaim(DateTimeOffset at) =>
        new(SignedInAt, at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), ClaimValueTypes.Integer64);

    /// <summary>When the user signed in, or null for a principal without the claim (a cookie older than the claim).</summary>
    public static DateTimeOffset? SignedInAtTime(this ClaimsPrincipal user) =>
        long.TryParse(user.FindFirst(SignedInAt)?.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
}
