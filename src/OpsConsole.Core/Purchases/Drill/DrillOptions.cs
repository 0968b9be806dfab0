namespace OpsConsole.Core.Purchases.Drill;

/// <summary>Settings of the concurrency drill (section <c>Drill</c>).</summary>
public sealed class DrillOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Drill";

    /// <summary>
    /// The database names (<c>current_database()</c> on the target, compared exactly) the drill may write to: the
    /// staging databases. Empty, the default: the drill refuses every target.
    /// </summary>
    public string[] AllowedDatabases { get; set; } = [];

    /// <summary>How long the clean-up of a drill's rows may take once the drill ended, even when it was cancelled.</summary>
    public TimeSpan CleanupTimeout { get; set; } = TimeSpan.FromMinutes(1);
}
