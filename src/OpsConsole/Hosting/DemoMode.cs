using OpsConsole.Core.Demo;

namespace OpsConsole.Hosting;

/// <summary>Whether this run seeds demo data, creates demo accounts and runs demo traffic.</summary>
public sealed record DemoMode(bool Enabled, string Password, bool PasswordGenerated, bool AllowOnConfiguredDatabase = false)
{
    /// <summary>The demo accounts and their roles.</summary>
    public static IReadOnlyList<(string UserName, string Role)> Accounts { get; } =
    [
        ("engineer", Core.Accounts.OpsRoles.Engineer),
        ("engineer2", Core.Accounts.OpsRoles.Engineer),
        ("support", Core.Accounts.OpsRoles.Support),
        // A second support person: credit adjustments above Credits:ApprovalThreshold need another one to approve.
        ("support2", Core.Accounts.OpsRoles.Support),
        ("manager", Core.Accounts.OpsRoles.Manager),
        ("admin", Core.Accounts.OpsRoles.Admin),
    ];

    /// <summary>
    /// The demo mode of <paramref name="options"/>; an unset <see cref="DemoOptions.Enabled"/> counts as
    /// <paramref name="enabledByDefault"/> (<see cref="ConsoleDatabase.ApplyTo"/> sets it for the embedded database).
    /// </summary>
    public static DemoMode From(DemoOptions options, bool enabledByDefault = false)
    {
        var configured = options.Password;
        return string.IsNullOrEmpty(configured)
            ? new DemoMode(options.Enabled ?? enabledByDefault, RandomPassword(), true, options.AllowOnConfiguredDatabase)
            : new DemoMode(options.Enabled ?? enabledByDefault, configured, false, options.AllowOnConfiguredDatabase);
    }

    /// <summary>
    /// Why demo mode may not run here, or null when it may: on a configured database outside Development it needs
    /// <see cref="AllowOnConfiguredDatabase"/> (<c>Demo:AllowOnConfiguredDatabase</c>).
    /// </summary>
    public string? Refusal(bool databaseIsLocal, IHostEnvironment environment)
    {
        if (!Enabled || databaseIsLocal || environment.IsDevelopment() || AllowOnConfiguredDatabase)
        {
            return null;
        }

        return $"Demo mode writes demo workspaces, leads and accounts into the configured database, and the environment is {environment.EnvironmentName}, " +
               "not Development. Turn Demo:Enabled off, or set Demo:AllowOnConfiguredDatabase=true if this database is meant for it.";
    }

    // 16 characters from an alphabet without look-alikes (no 0/O, 1/l/I), easy to type from the console output.
    private static string RandomPassword() =>
        System.Security.Cryptography.RandomNumberGenerator.GetString("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 16);
}
