using Npgsql;

namespace OpsConsole.Core.Database;

/// <summary>
/// The database roles the console is built around (migration 0003 creates the group roles, 0030 gives them their
/// privileges) and the login users the embedded cluster creates for them. A real database has its own logins,
/// members of the same group roles (README, Security).
/// </summary>
public static class ConsoleRoles
{
    /// <summary>Owns the console's objects and the SECURITY DEFINER purchase functions; migrations run as it.</summary>
    public const string Owner = "opsconsole_owner";

    /// <summary>What the running console may do: no ownership, append-only on audit and evidence tables.</summary>
    public const string Runtime = "opsconsole_runtime";

    /// <summary>What a runbook check may read, nothing more.</summary>
    public const string Probe = "opsconsole_probe";

    /// <summary>The contract's role holding EXECUTE on the five purchase functions.</summary>
    public const string ServiceRole = "service_role";

    /// <summary>Login of the embedded and test clusters that migrates (member of <see cref="Owner"/>).</summary>
    public const string OwnerLogin = "opsconsole_migrator";

    /// <summary>Login of the embedded and test clusters the console runs as (member of <see cref="Runtime"/>).</summary>
    public const string RuntimeLogin = "opsconsole_app";

    /// <summary>Login of the embedded and test clusters the runbook checks run as (member of <see cref="Probe"/> only).</summary>
    public const string ProbeLogin = "opsconsole_checks";

    /// <summary>The logins a local cluster creates, each with the group role it belongs to.</summary>
    public static IReadOnlyList<(string Login, string Role)> LocalLogins { get; } =
    [
        (OwnerLogin, Owner),
        (RuntimeLogin, Runtime),
        (ProbeLogin, Probe),
    ];

    /// <summary>
    /// Creates (or brings up to date) the console's roles and the local logins on a cluster this process controls
    /// as superuser: group roles and <c>service_role</c> when missing, each login with its password from the
    /// cluster's credentials file, the owner login acting as the owner role, <paramref name="database"/> owned by
    /// the owner role (so the owner also owns its <c>public</c> schema). Safe to run at every start.
    /// </summary>
    public static async Task EnsureLocalLoginsAsync(LocalPostgresCluster cluster, string database, CancellationToken cancellationToken)
    {
        var sql = new System.Text.StringBuilder();
        sql.AppendLine("DO $roles$ DECLARE r text; BEGIN");
        foreach (var role in new[] { Owner, Runtime, Probe, ServiceRole }.Concat(LocalLogins.Select(l => l.Login)))
        {
            sql.AppendLine($"  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} NOLOGIN; END IF;");
        }

        sql.AppendLine("END $roles$;");
        foreach (var (login, role) in LocalLogins)
        {
            // Our generated passwords are alphanumeric; quoting them is still done properly.
            var password = cluster.PasswordOf(login).Replace("'", "''", StringComparison.Ordinal);
            sql.AppendLine($"ALTER ROLE {login} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '{password}';");
            sql.AppendLine($"GRANT {role} TO {login};");
        }

        // Objects created by hand (psql as the owner login) belong to the owner role, as the migrations' do.
        sql.AppendLine($"ALTER ROLE {OwnerLogin} SET role = '{Owner}';");
        sql.AppendLine($"ALTER DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\" OWNER TO {Owner};");

        // Unpooled: no idle session may stay behind in a database that is then copied as a template.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(cluster.ConnectionString(database)) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql.ToString(), connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Gives the runtime role <c>pg_monitor</c> and <c>pg_signal_backend</c> (what the lock view needs to see every
    /// session and to cancel or terminate one) when <paramref name="grant"/> is true, and takes them back when it is
    /// false. Needs a superuser or ADMIN on those roles; does nothing when the state is already the wanted one.
    /// </summary>
    public static async Task ApplyLockViewRolesAsync(string connectionString, bool grant, CancellationToken cancellationToken)
    {
        var sql = grant
            ? $"""
              DO $lockroles$ BEGIN
                IF NOT pg_has_role('{Runtime}', 'pg_monitor', 'MEMBER') OR NOT pg_has_role('{Runtime}', 'pg_signal_backend', 'MEMBER') THEN
                  GRANT pg_monitor, pg_signal_backend TO {Runtime};
                END IF;
              END $lockroles$
              """
            : $"""
              DO $lockroles$ BEGIN
                IF EXISTS (SELECT 1 FROM pg_auth_members WHERE member = '{Runtime}'::regrole
                           AND roleid IN ('pg_monitor'::regrole, 'pg_signal_backend'::regrole)) THEN
                  REVOKE pg_monitor, pg_signal_backend FROM {Runtime};
                END IF;
              END $lockroles$
              """;
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
