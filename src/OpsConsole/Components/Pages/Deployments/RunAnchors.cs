namespace OpsConsole.Components.Pages.Deployments;

/// <summary>The element ids of the run page that links, the outline and keyboard moves point at.</summary>
public static class RunAnchors
{
    /// <summary>The sign-off panel.</summary>
    public const string SignOff = "sign-off-panel";

    /// <summary>A checklist item's row.</summary>
    public static string Item(string itemKey) => $"item-{itemKey}";

    /// <summary>A check's card.</summary>
    public static string Check(string probeKey) => $"check-{probeKey}";
}
