using OpsConsole.Core.Accounts;

namespace OpsConsole.Core.Actions;

/// <summary>What a console user may do. Roles grant permissions (<see cref="OpsPermissionTable"/>); Core services check them.</summary>
[Flags]
public enum OpsPermissions
{
    /// <summary>Nothing: signed out, disabled or without a console role.</summary>
    None = 0,

    /// <summary>See every page, export, add deployment notes.</summary>
    View = 1,

    /// <summary>Start deployment runs, tick items, run checks, sign as deployer, verifier or for a rollback.</summary>
    SignOffDeployments = 2,

    /// <summary>Approve a deployment run (the third pair of eyes).</summary>
    ApproveDeployments = 4,

    /// <summary>Adjust, approve, reject and reverse credit adjustments.</summary>
    EditCredits = 8,

    /// <summary>Cancel or terminate database backends.</summary>
    ManageBackends = 16,

    /// <summary>Issue Stripe refunds and replay missed Stripe events.</summary>
    ManagePayments = 32,

    /// <summary>Start and stop the demo's incident scenarios.</summary>
    RunDemoScenarios = 64,
}

/// <summary>One permission: the words a refusal uses and the roles that hold it.</summary>
/// <param name="Permission">The permission.</param>
/// <param name="Action">What it allows, as a verb phrase ("edit credits").</param>
/// <param name="Roles">The roles that hold it, in the console's order.</param>
public sealed record OpsPermissionInfo(OpsPermissions Permission, string Action, IReadOnlyList<string> Roles)
{
    /// <summary>The sentence a refused user reads.</summary>
    public string Refusal(string? currentRole) =>
        $"You are not allowed to {Action}: that needs the {string.Join(" or ", Roles)} role"
        + (string.IsNullOrEmpty(currentRole) ? "." : $", and you are signed in as {currentRole}.");
}

/// <summary>The one table of which role holds which permission; the app's authorization policies derive from it.</summary>
public static class OpsPermissionTable
{
    /// <summary>Every permission with its words and roles.</summary>
    public static IReadOnlyList<OpsPermissionInfo> All { get; } =
    [
        new(OpsPermissions.View, "view the console", OpsRoles.All),
        new(OpsPermissions.SignOffDeployments, "sign off deployments", [OpsRoles.Engineer, OpsRoles.Manager, OpsRoles.Admin]),
        new(OpsPermissions.ApproveDeployments, "approve deployments", [OpsRoles.Manager, OpsRoles.Admin]),
        new(OpsPermissions.EditCredits, "edit credits", [OpsRoles.Support, OpsRoles.Admin]),
        new(OpsPermissions.ManageBackends, "cancel or terminate database backends", [OpsRoles.Engineer, OpsRoles.Admin]),
        new(OpsPermissions.ManagePayments, "issue refunds or replay Stripe events", [OpsRoles.Support, OpsRoles.Admin]),
        new(OpsPermissions.RunDemoScenarios, "start demo scenarios", [OpsRoles.Admin]),
    ];

    /// <summary>The entry of one single permission.</summary>
    public static OpsPermissionInfo Get(OpsPermissions permission) => All.Single(p => p.Permission == permission);

    /// <summary>Everything <paramref name="role"/> may do; <see cref="OpsPermissions.None"/> for an unknown or missing role.</summary>
    public static OpsPermissions For(string? role)
    {
        var normalized = OpsRoles.Normalize(role);
        if (normalized is null)
        {
            return OpsPermissions.None;
        }

        var permissions = OpsPermissions.None;
        foreach (var entry in All.Where(e => e.Roles.Contains(normalized)))
        {
            permissions |= entry.Permission;
        }

        return permissions;
    }
}
