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

    /// <summary>The row of <c>ops.sessions</c> that holds this sign-in (PostgresTicketStore); no row, no session.</summary>
    public const string SessionId = "opsconsole:session";

    /// <summary>The <c>ops.accounts</c> id of a local sign-in: a new stamp on that account deletes its sessions.</summary>
    public const string AccountId = "opsconsole:account";

    /// <summary>When the user signed in (Unix seconds): the start of <c>Accounts:MaxSessionLifetime</c>, which renewals do not move.</summary>
    public const string SignedInAt = "opsconsole:signed-in-at";

    /// <summary>The role to show for a user: the first of the console's roles they hold.</summary>
    public static string? ConsoleRole(this ClaimsPrincipal user) =>
        Core.Accounts.OpsRoles.All.FirstOrDefault(user.IsInRole);

    public static bool IsLocalAccount(this ClaimsPrincipal user) => user.FindFirst(Source)?.Value == LocalSource;

    /// <summary>The account id of a local sign-in, or null (single sign-on, or a principal without the claim).</summary>
    public static long? LocalAccountId(this ClaimsPrincipal user) =>
        user.IsLocalAccount() && long.TryParse(user.FindFirst(AccountId)?.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var id)
            ? id
            : null;

    /// <summary>The server-side session of this sign-in, or null for a principal without one.</summary>
    public static Guid? SessionKey(this ClaimsPrincipal user) =>
        Guid.TryParseExact(user.FindFirst(SessionId)?.Value, "N", out var id) ? id : null;

    public static Claim SignedInAtClaim(DateTimeOffset at) =>
        new(SignedInAt, at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), ClaimValueTypes.Integer64);

    /// <summary>When the user signed in, or null for a principal without the claim (a cookie older than the claim).</summary>
    public static DateTimeOffset? SignedInAtTime(this ClaimsPrincipal user) =>
        long.TryParse(user.FindFirst(SignedInAt)?.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
}
