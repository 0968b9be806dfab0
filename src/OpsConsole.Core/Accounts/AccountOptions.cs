namespace OpsConsole.Core.Accounts;

/// <summary>Lockout and password rules for local accounts (configuration section <c>Accounts</c>).</summary>
public sealed class AccountOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string Section = "Accounts";

    /// <summary>Failed sign-ins in a row after which the account is locked.</summary>
    public int MaxFailedAttempts { get; set; } = 5;

    /// <summary>How long a locked account stays locked.</summary>
    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often a signed-in user's account is checked again (still there, same role, same security stamp, not disabled).</summary>
    public TimeSpan RevalidationInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The longest a sign-in lasts, however active its user: the cookie's sliding expiration renews it, this does not
    /// move. Checked with the account, so an open page ends within <see cref="RevalidationInterval"/> of it.
    /// </summary>
    public TimeSpan MaxSessionLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>The shortest password <see cref="AccountService.UpsertAsync"/> accepts (see <see cref="PasswordPolicy"/>).</summary>
    public int MinimumPasswordLength { get; set; } = 12;

    /// <summary>Sign-in posts allowed per client address and minute, on top of the per-account lockout.</summary>
    public int SignInAttemptsPerMinute { get; set; } = 10;
}
