using System.Security.Claims;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Actions;

namespace OpsConsole.Testing;

/// <summary>
/// The demo accounts as the actors Core services take, with the permissions their roles hold. Their identities are
/// those the app's <c>OpsActors</c> gives the sign-ins of <see cref="Principal"/>, so a run signed through the service
/// and a page signed in with the same name agree on who is who.
/// </summary>
public static class TestActors
{
    /// <summary>The issuer of the test sign-ins' subject claim.</summary>
    public const string Issuer = "test";

    public static OpsActor Engineer { get; } = For("engineer", OpsRoles.Engineer);

    public static OpsActor Engineer2 { get; } = For("engineer2", OpsRoles.Engineer);

    public static OpsActor Manager { get; } = For("manager", OpsRoles.Manager);

    public static OpsActor Admin { get; } = For("admin", OpsRoles.Admin);

    public static OpsActor Support { get; } = For("support", OpsRoles.Support);

    /// <summary>An actor named <paramref name="userName"/> with <paramref name="role"/>'s permissions (identity from the name).</summary>
    public static OpsActor For(string userName, string? role, string? subject = null) =>
        new($"oidc:{Issuer}|{subject ?? userName}", userName, role, OpsPermissionTable.For(role));

    /// <summary>A signed-in user for bUnit and endpoint tests; <c>OpsActors</c> maps it to <see cref="For"/> of the same arguments.</summary>
    public static ClaimsPrincipal Principal(string userName, string role, string? subject = null) =>
        new(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.Name, userName),
                new Claim(ClaimTypes.Role, role),
                new Claim("sub", subject ?? userName, ClaimValueTypes.String, Issuer),
            ],
            "test", ClaimTypes.Name, ClaimTypes.Role));
}
