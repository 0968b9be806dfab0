using Microsoft.Extensions.Configuration;

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
    /// terminate actions): applied to the embedded cluster at each start (unset there: granted), granted after
    /// migrations on a configured one (unset there: not granted).
    /// </summary>
    public bool? GrantLockViewRoles { get; set; }

    /// <summary>The section bound before the host exists (the database is decided before the container is built).</summary>
    public static DatabaseOptions From(IConfiguration configuration) =>
        configuration.GetSection(Section).Get<DatabaseOptions>() ?? new();
}
