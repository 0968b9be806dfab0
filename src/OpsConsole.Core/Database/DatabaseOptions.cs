namespace OpsConsole.Core.Database;

/// <summary>Settings of the console's database (section <c>Database</c>).</summary>
public sealed class DatabaseOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Database";

    /// <summary>Apply the migrations when the console starts on a configured database (the embedded one always is).</summary>
    public bool MigrateOnStart { get; set; }

    /// <summary>
    /// Give the runtime role <c>pg_monitor</c> and <c>pg_signal_backend</c> (the lock view's reads and its cancel and
    /// terminate actions): applied to the embedded cluster at each start, granted by migrations on a configured one.
    /// </summary>
    public bool GrantLockViewRoles { get; set; }
}
