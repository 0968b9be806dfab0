namespace OpsConsole.Core.Accounts;

/// <summary>
/// A local sign-in account, a row of <c>ops.accounts</c>. <paramref name="SecurityStamp"/> changes whenever the
/// password, the role or the disabled state changes (migration 0070): a session signed in with another stamp is over.
/// </summary>
public sealed record OpsAccount(
    long Id,
    string UserName,
    string Role,
    string PasswordHash,
    int FailedAttempts,
    DateTime? LockedUntilUtc,
    Guid SecurityStamp = default,
    DateTime? DisabledAtUtc = null)
{
    /// <summary>Whether the account was disabled (<c>users disable</c>): it cannot sign in and its sessions end.</summary>
    public bool IsDisabled => DisabledAtUtc is not null;
}
