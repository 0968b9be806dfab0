using OpsConsole.Core.Deployments;

namespace OpsConsole.Components.Pages.Deployments;

/// <summary>How the deployment pages show statuses and times.</summary>
public static class DeploymentFormat
{
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
