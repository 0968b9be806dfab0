namespace OpsConsole.Core.Database;

/// <summary>Settings of the console's database (section <c>Database</c>).</summary>
public sealed class DatabaseOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Database";

    /// <summary>Apply the migrations when the console starts on a configured database (the embedded one always is).</summary>
    public bool MigrateOnStart { get; set; }
}
