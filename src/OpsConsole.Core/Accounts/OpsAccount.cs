namespace OpsConsole.Core.Accounts;

/// <summary>A local sign-in account, a row of <c>ops.accounts</c>.</summary>
public sealed record OpsAccount(
    long Id,
    string UserName,
    string Role,
    string PasswordHash,
    int FailedAttempts,
    DateTime? LockedUntilUtc);
