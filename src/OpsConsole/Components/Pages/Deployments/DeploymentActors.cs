using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using OpsConsole.Auth;
using OpsConsole.Core.Deployments;

namespace OpsConsole.Components.Pages.Deployments;

/// <summary>
/// The signed-in user as the deployment service sees them: their name (never a typed one) and the permissions the
/// console's policies grant them. The service checks these again on every call.
/// </summary>
public static class DeploymentActors
{
    /// <summary>Builds the actor for <paramref name="user"/> from the console's policies.</summary>
    public static async Task<DeploymentActor> ForAsync(IAuthorizationService authorization, ClaimsPrincipal user)
    {
        var permissions = DeploymentPermissions.None;
        if ((await authorization.AuthorizeAsync(user, OpsPolicies.ViewAll)).Succeeded)
        {
            permissions |= DeploymentPermissions.View;
        }

        if ((await authorization.AuthorizeAsync(user, OpsPolicies.SignOffDeployments)).Succeeded)
        {
            permissions |= DeploymentPermissions.SignOff;
        }

        if ((await authorization.AuthorizeAsync(user, OpsPolicies.ApproveDeployments)).Succeeded)
        {
            permissions |= DeploymentPermissions.Approve;
        }

        return new DeploymentActor(user.Identity?.IsAuthenticated == true ? user.Identity.Name ?? "" : "", permissions);
    }

    /// <summary>The colour of a status chip.</summary>
    public static MudBlazor.Color ColorOf(DeploymentStatus status) => status switch
    {
        DeploymentStatus.Complete => MudBlazor.Color.Success,
        DeploymentStatus.RolledBack => MudBlazor.Color.Warning,
        _ => MudBlazor.Color.Info,
    };

    /// <summary>A time as the page shows it (UTC, to the second).</summary>
    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
}
