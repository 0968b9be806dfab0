using Dapper;
using Npgsql;
using OpsConsole.Core.Database;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Security;

/// <summary>
/// What the console's runtime login may do after the migrations: append to and read the audit and evidence tables,
/// never change or empty them, no DDL, no ownership; and who owns what.
/// </summary>
public sealed class RuntimeRoleTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    /// <summary>Audit and evidence tables: INSERT and SELECT only. Features with audit tables of their own add them here.</summary>
    public static TheoryData<string> AppendOnlyTables =>
    [
        "public.audit_logs",
        "ops.deployment_events",
        "ops.deployment_probe_results",
        "ops.deployment_notes",
        "ops.credit_adjustments",
        "ops.credit_adjustment_events",
    ];

    [Theory]
    [MemberData(nameof(AppendOnlyTables))]
    public async Task The_runtime_role_cannot_update_delete_or_truncate_an_audit_or_evidence_table(string table)
    {
        await using var connection = await OpenRuntimeAsync();
        var column = await connection.ExecuteScalarAsync<string>(
            "SELECT attname FROM pg_attribute WHERE attrelid = @table::regclass AND attnum = 2", new { table });

        await RefusedAsync(connection, $"UPDATE {table} SET {column} = {column}");
        await RefusedAsync(connection, $"DELETE FROM {table}");
        await RefusedAsync(connection, $"TRUNCATE {table}");
        await RefusedAsync(connection, $"ALTER TABLE {table} DISABLE TRIGGER ALL");
        await RefusedAsync(connection, $"DROP TABLE {table}");
        Assert.True(await connection.ExecuteScalarAsync<bool>("SELECT has_table_privilege(@table, 'SELECT') AND has_table_privilege(@table, 'INSERT')", new { table }));
    }

    [Fact]
    public async Task The_runtime_role_appends_to_audit_logs_and_reads_it_back()
    {
        await using var connection = await OpenRuntimeAsync();

        var id = await connection.ExecuteScalarAsync<long>(
            "INSERT INTO audit_logs (action, actor, details) VALUES ('runtime_role_test', 'test', '{}') RETURNING id");

        Assert.Equal("runtime_role_test", await connection.ExecuteScalarAsync<string>("SELECT action FROM audit_logs WHERE id = @id", new { id }));
    }

    [Theory]
    [InlineData("CREATE TABLE public.intruder (id int)")]
    [InlineData("CREATE TABLE ops.intruder (id int)")]
    [InlineData("CREATE SCHEMA intruder")]
    [InlineData("CREATE FUNCTION public.intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'")]
    [InlineData("CREATE VIEW public.intruder AS SELECT 1 AS x")]
    [InlineData("ALTER TABLE public.leads ADD COLUMN intruder int")]
    [InlineData("ALTER TABLE ops.accounts DROP COLUMN role")]
    [InlineData("DROP FUNCTION public.mark_leads_sold_bulk(uuid, uuid[])")]
    [InlineData("CREATE OR REPLACE FUNCTION public.release_expired_lead_reservations() RETURNS int LANGUAGE sql AS 'SELECT 0'")]
    [InlineData("CREATE INDEX intruder ON public.leads (id)")]
    [InlineData("GRANT opsconsole_owner TO opsconsole_runtime")]
    [InlineData("ALTER FUNCTION public.mark_leads_sold_bulk(uuid, uuid[]) OWNER TO opsconsole_runtime")]
    [InlineData("DELETE FROM ops.accounts")]
    [InlineData("DELETE FROM public.workspaces")]
    [InlineData("UPDATE public.workspace_credits SET workspace_id = workspace_id")]
    [InlineData("INSERT INTO public.workspaces (id, name) VALUES (gen_random_uuid(), 'intruder')")]
    [InlineData("UPDATE ops.deployment_templates SET markdown = 'rewritten'")]
    public async Task The_runtime_role_cannot_change_the_schema_or_write_beyond_what_the_console_does(string sql)
    {
        await using var connection = await OpenRuntimeAsync();

        await RefusedAsync(connection, sql);
    }

    [Fact]
    public async Task The_runtime_role_owns_nothing_and_has_no_role_attribute_or_lock_view_role_by_default()
    {
        await using var connection = await OpenRuntimeAsync();

        var attributes = await connection.QuerySingleAsync<(bool Super, bool CreateRole, bool CreateDb, bool Bypass)>(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = session_user");
        Assert.Equal((false, false, false, false), attributes);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("""
            SELECT (SELECT count(*) FROM pg_class WHERE pg_has_role(relowner, 'USAGE') AND relnamespace IN ('public'::regnamespace, 'ops'::regnamespace))
                 + (SELECT count(*) FROM pg_proc WHERE pg_has_role(proowner, 'USAGE') AND pronamespace IN ('public'::regnamespace, 'ops'::regnamespace))
                 + (SELECT count(*) FROM pg_namespace WHERE pg_has_role(nspowner, 'USAGE') AND nspname IN ('public', 'ops'))
            """));
        Assert.False(await connection.ExecuteScalarAsync<bool>("SELECT has_schema_privilege('public', 'CREATE') OR has_schema_privilege('ops', 'CREATE')"));
        Assert.False(await connection.ExecuteScalarAsync<bool>("SELECT pg_has_role('pg_signal_backend', 'MEMBER') OR pg_has_role('pg_monitor', 'MEMBER')"));
        Assert.True(await connection.ExecuteScalarAsync<bool>(
            "SELECT has_function_privilege('public.complete_credit_lead_purchase(uuid)', 'EXECUTE')"));
    }

    [Fact]
    public async Task The_owner_role_owns_the_consoles_objects_and_the_security_definer_functions_and_is_no_superuser()
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();

        var foreign = (await connection.QueryAsync<string>("""
            SELECT 'relation ' || c.oid::regclass::text FROM pg_class AS c
            WHERE c.relnamespace IN ('public'::regnamespace, 'ops'::regnamespace) AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
              AND c.relowner <> 'opsconsole_owner'::regrole
            UNION ALL
            SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc AS p
            WHERE p.pronamespace IN ('public'::regnamespace, 'ops'::regnamespace) AND p.proowner <> 'opsconsole_owner'::regrole
            UNION ALL
            SELECT 'schema ops' FROM pg_namespace WHERE nspname = 'ops' AND nspowner <> 'opsconsole_owner'::regrole
            """)).ToList();
        Assert.Empty(foreign);
        Assert.Equal(5, await connection.ExecuteScalarAsync<int>("""
            SELECT count(*) FROM pg_proc WHERE prosecdef AND pronamespace = 'public'::regnamespace AND proowner = 'opsconsole_owner'::regrole
            """));
        Assert.False(await connection.ExecuteScalarAsync<bool>("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = 'opsconsole_owner'"));
        Assert.False(await connection.ExecuteScalarAsync<bool>("""
            SELECT EXISTS (SELECT 1 FROM pg_namespace AS n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a
                           WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')
            """));
    }

    [Fact]
    public async Task The_probe_role_reads_what_the_shipped_checks_read_and_nothing_else()
    {
        await using var connection = new NpgsqlConnection(database.ProbeConnectionString);
        await connection.OpenAsync();

        var readable = (await connection.QueryAsync<string>("""
            SELECT c.oid::regclass::text FROM pg_class AS c
            WHERE c.relnamespace IN ('public'::regnamespace, 'ops'::regnamespace) AND c.relkind = 'r' AND has_table_privilege(c.oid, 'SELECT')
            ORDER BY 1
            """)).ToList();
        Assert.Equal(["audit_logs", "leads", "marketplace_purchases", "workspace_credits"], readable);
        Assert.False(await connection.ExecuteScalarAsync<bool>("""
            SELECT bool_or(has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE'))
            FROM pg_class AS c WHERE c.relnamespace IN ('public'::regnamespace, 'ops'::regnamespace) AND c.relkind = 'r'
            """));
    }

    private async Task<NpgsqlConnection> OpenRuntimeAsync()
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database.ConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        Assert.Equal(ConsoleRoles.RuntimeLogin, await connection.ExecuteScalarAsync<string>("SELECT current_user"));
        return connection;
    }

    private static async Task RefusedAsync(NpgsqlConnection connection, string sql)
    {
        await using var transaction = await connection.BeginTransactionAsync();
        var error = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync(sql, transaction: transaction));
        Assert.True(error.SqlState == PostgresErrorCodes.InsufficientPrivilege, $"{sql}: {error.SqlState} {error.MessageText}");
    }
}
