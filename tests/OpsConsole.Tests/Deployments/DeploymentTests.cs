namespace OpsConsole.Tests.Deployments;

/// <summary>The xunit collection of the deployment page tests.</summary>
internal static class DeploymentTests
{
    public const string Collection = "Deployment pages";
}
