using Microsoft.AspNetCore.Authorization;
using OpsConsole.Core.Actions;

namespace OpsConsole.Auth;

/// <summary>
/// The console's authorization policies, one per Core permission, with the roles of <see cref="OpsPermissionTable"/>.
/// They gate pages and endpoints; Core services check the same permissions again on every action through
/// <see cref="OpsActor"/>, so hiding a button is only a courtesy.
/// </summary>
public static class OpsPolicies
{
    public const string ViewAll = nameof(OpsPermissions.View);
    public const string SignOffDeployments = nameof(OpsPermissions.SignOffDeployments);
    public const string ApproveDeployments = nameof(OpsPermissions.ApproveDeployments);
    public const string EditCredits = nameof(OpsPermissions.EditCredits);
    public const string ManageBackends = nameof(OpsPermissions.ManageBackends);
    public const string ManagePayments = nameof(OpsPermissions.ManagePayments);
    public const string RunDemoScenarios = nameof(OpsPermissions.RunDemoScenarios);

    /// <summary>Each policy, the roles that satisfy it and what it allows, in words for refusals.</summary>
    public static IReadOnlyList<OpsPolicy> All { get; } =
        OpsPermissionTable.All.Select(p => new OpsPolicy(p.Permission.ToString(), p.Action, p.Roles)).ToList();

    public static OpsPolicy Get(string name) => All.Single(p => p.Name == name);

    public static void AddOpsPolicies(this AuthorizationOptions options)
    {
        foreach (var policy in All)
        {
            options.AddPolicy(policy.Name, p => p.RequireAuthenticatedUser().RequireRole(policy.Roles));
        }

        // Every endpoint without an explicit rule needs a signed-in user with one of the roles.
        options.FallbackPolicy = options.GetPolicy(ViewAll);
    }
}

/// <summary>A policy with the roles that satisfy it and a phrase for what it allows.</summary>
public sealed record OpsPolicy(string Name, string Action, IReadOnlyList<string> Roles)
{
    public string Refusal(string? currentRole) =>
        $"You are not allowed to {Action}: that needs the {string.Join(" or ", Roles)} role"
        + (string.IsNullOrEmpty(currentRole) ? "." : $", and you are signed in as {currentRole}.");
}
