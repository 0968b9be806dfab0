using Microsoft.AspNetCore.Authorization;
using OpsConsole.Core.Accounts;

namespace OpsConsole.Auth;

/// <summary>
/// The console's authorization policies. Every action checks its policy on the server
/// (endpoint metadata or <see cref="IAuthorizationService"/>); hiding a button is only a courtesy.
/// </summary>
public static class OpsPolicies
{
    public const string ViewAll = "ViewAll";
    public const string SignOffDeployments = "SignOffDeployments";
    public const string ApproveDeployments = "ApproveDeployments";
    public const string EditCredits = "EditCredits";
    public const string ManageBackends = "ManageBackends";

    /// <summary>Each policy, the roles that satisfy it and what it allows, in words for refusals.</summary>
    public static IReadOnlyList<OpsPolicy> All { get; } =
    [
        new(ViewAll, "view the console", OpsRoles.All),
        new(SignOffDeployments, "sign off deployments", [OpsRoles.Engineer, OpsRoles.Manager, OpsRoles.Admin]),
        new(ApproveDeployments, "approve deployments", [OpsRoles.Manager, OpsRoles.Admin]),
        new(EditCredits, "edit credits", [OpsRoles.Support, OpsRoles.Admin]),
        new(ManageBackends, "cancel or terminate database backends", [OpsRoles.Engineer, OpsRoles.Admin]),
    ];

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
