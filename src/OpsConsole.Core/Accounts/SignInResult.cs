namespace OpsConsole.Core.Accounts;

/// <summary>How a sign-in attempt ended.</summary>
public enum SignInOutcome
{
    /// <summary>Name and password matched an unlocked account.</summary>
    Succeeded,

    /// <summary>The name or the password was wrong (deliberately not saying which).</summary>
    Failed,

    /// <summary>Too many failures in a row: the account refuses sign-in until the lock expires.</summary>
    LockedOut,
}

/// <summary>The result of <see cref="AccountService.SignInAsync"/>; the account is set only on success.</summary>
public sealed record SignInResult(SignInOutcome Outcome, OpsAccount? Account)
{
    internal static SignInResult Failed { get; } = new(SignInOutcome.Failed, null);

    internal static SignInResult LockedOut { get; } = new(SignInOutcome.LockedOut, null);
}

/// <summary>What <see cref="AccountService.UpsertDemoAsync"/> did.</summary>
public enum DemoAccountChange
{
    /// <summary>The account did not exist and was created (as the demo's).</summary>
    Created,

    /// <summary>The demo's own account got the new role and password.</summary>
    Updated,

    /// <summary>An account of that name exists that the demo did not create: nothing changed.</summary>
    LeftAlone,
}
