namespace OpsConsole.Core.Actions;

/// <summary>
/// The person acting, as every Core service that reads or changes something takes it. The app builds it afresh for
/// each action from the current sign-in (a demoted or disabled user holds no permission from that moment on); Core
/// checks <see cref="Can"/> itself and never trusts a page to have hidden a button.
/// </summary>
/// <param name="Id">
/// Stable identity: <c>local:&lt;account id&gt;</c> for a local account, <c>oidc:&lt;issuer&gt;|&lt;subject&gt;</c> for single
/// sign-on. Never a display name: two people with one name stay two, and four-eyes rules compare this.
/// </param>
/// <param name="DisplayName">What records and pages show ("alice").</param>
/// <param name="Role">The console role, or null when the user holds none.</param>
/// <param name="Permissions">What the role allows at this moment.</param>
public sealed record OpsActor(string Id, string DisplayName, string? Role, OpsPermissions Permissions)
{
    /// <summary>Nobody: no identity, no permission (signed out, or an account that no longer exists).</summary>
    public static OpsActor Nobody { get; } = new("", "", null, OpsPermissions.None);

    /// <summary>True when the actor holds every permission in <paramref name="permission"/>.</summary>
    public bool Can(OpsPermissions permission) => Id.Length > 0 && (Permissions & permission) == permission;

    /// <summary>True when <paramref name="actorId"/> is this actor's stable identity.</summary>
    public bool Is(string? actorId) => Id.Length > 0 && string.Equals(Id, actorId, StringComparison.Ordinal);

    /// <summary>
    /// Null when the actor holds <paramref name="permission"/>; otherwise a <see cref="RefusalKind.Forbidden"/> refusal that
    /// says which roles may. The first line of every Core action: <c>if (actor.Lacks(...) is { } refusal) return refusal;</c>
    /// </summary>
    public Refusal? Lacks(OpsPermissions permission) =>
        Can(permission) ? null : Refusal.Forbidden(OpsPermissionTable.Get(permission).Refusal(Role));

    /// <summary>How audit rows name the actor: readable, and unambiguous through the identity.</summary>
    public string AuditName => $"{DisplayName} [{Id}]";
}
