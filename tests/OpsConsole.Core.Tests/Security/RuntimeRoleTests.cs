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
    /// <summary>
    /// The console's audit and evidence tables: INSERT and SELECT only. Features with audit tables of their own add them
    /// here. (The marketplace's audit_logs: see the test below.)
    /// </summary>
    public static TheoryData<string> AppendOnlyTables =>
    [
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
    public async Task The_runtime_role_appends_to_audit_logs_with_its_real_columns_and_cannot_change_or_remove_a_row()
    {
        await using var connection = await OpenRuntimeAsync();

        var id = await connection.ExecuteScalarAsync<Guid>("""
            INSERT INTO audit_logs (action, resource_type, new_values, metadata)
            VALUES ('runtime_role_test', 'workspace', '{}', '{"actor": "test"}') RETURNING id
            """);

        await RefusedAsync(connection, "UPDATE audit_logs SET action = 'rewritten'");
        await RefusedAsync(connection, "DELETE FROM audit_logs");
        await RefusedAsync(connection, "TRUNCATE audit_logs");
        await RefusedAsync(connection, "ALTER TABLE audit_logs DISABLE TRIGGER ALL");
        await RefusedAsync(connection, "DROP TABLE audit_logs");
        Assert.Equal(("runtime_role_test", "test"), await connection.QuerySingleAsync<(string, string)>(
            "SELECT action, metadata->>'actor' FROM audit_logs WHERE id = @id", new { id }));
    }

    [Fact]
    public async Task The_drop_ins_functions_are_granted_to_service_role_the_probe_and_the_runtime_which_is_no_member_of_service_role()
    {
        await using var connection = await OpenRuntimeAsync();

        var grants = (await connection.QueryAsync<(string Function, string Grantees)>("""
            SELECT p.oid::regprocedure::text,
                   string_agg(DISTINCT a.grantee::regrole::text, ',' ORDER BY a.grantee::regrole::text)
            FROM pg_proc AS p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
            WHERE p.pronamespace = 'public'::regnamespace AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
              AND p.proname IN ('validate_and_lock_leads_for_purchase', 'complete_credit_lead_purchase',
                                'complete_stripe_lead_purchase', 'mark_leads_sold_bulk', 'release_expired_lead_reservations')
            GROUP BY p.oid ORDER BY 1
            """)).ToList();

        Assert.Equal(
            [
                "complete_credit_lead_purchase(uuid,uuid,numeric)", "complete_stripe_lead_purchase(uuid,text)", "mark_leads_sold_bulk(uuid[])",
                "release_expired_lead_reservations()", "validate_and_lock_leads_for_purchase(uuid[],uuid)",
            ],
            grants.Select(g => g.Function));
        Assert.All(grants, g => Assert.Equal("opsconsole_probe,opsconsole_runtime,service_role", g.Grantees));
        Assert.True(await connection.ExecuteScalarAsync<bool>("""
            SELECT NOT pg_has_role('service_role', 'MEMBER') AND NOT pg_has_role('opsconsole_owner', 'MEMBER')
               AND has_function_privilege('public.complete_credit_lead_purchase(uuid, uuid, numeric)', 'EXECUTE')
               AND has_function_privilege('public.validate_and_lock_leads_for_purchase(uuid[], uuid)', 'EXECUTE')
            """));
        await using var probe = new NpgsqlConnection(database.ProbeConnectionString);
        await probe.OpenAsync();
        Assert.True(await probe.ExecuteScalarAsync<bool>(
            "SELECT has_function_privilege('public.complete_stripe_lead_purchase(uuid, text)', 'EXECUTE') AND NOT pg_has_role('opsconsole_runtime', 'MEMBER')"));
    }

    [Theory]
    [InlineData("CREATE TABLE public.intruder (id int)")]
    [InlineData("CREATE TABLE ops.intruder (id int)")]
    [InlineData("CREATE SCHEMA intruder")]
    [InlineData("CREATE FUNCTION public.intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'")]
    [InlineData("CREATE VIEW public.intruder AS SELECT 1 AS x")]
    [InlineData("ALTER TABLE public.leads ADD COLUMN intruder int")]
    [InlineData("ALTER TABLE ops.accounts DROP COLUMN role")]
    [InlineData("DROP FUNCTION public.mark_leads_sold_bulk(uuid[])")]
    [InlineData("CREATE OR REPLACE FUNCTION public.release_expired_lead_reservations() RETURNS int LANGUAGE sql AS 'SELECT 0'")]
    [InlineData("CREATE INDEX intruder ON public.leads (id)")]
    [InlineData("GRANT opsconsole_owner TO opsconsole_runtime")]
    [InlineData("ALTER FUNCTION public.mark_leads_sold_bulk(uuid[]) OWNER TO opsconsole_runtime")]
    [InlineData("ALTER TABLE public.workspace_credits DISABLE ROW LEVEL SECURITY")]
    [InlineData("TRUNCATE public.leads")]
    [InlineData("DELETE FROM ops.accounts")]
    [InlineData("INSERT INTO public.workspaces (id, name, slug) VALUES (gen_random_uuid(), 'intruder', 'intruder')")]
    [InlineData("DELETE FROM public.workspaces")]
    [InlineData("UPDATE public.workspace_credits SET workspace_id = workspace_id")]
    [InlineData("UPDATE public.leads SET sold_count = 0")]
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
            "SELECT has_function_privilege('public.complete_credit_lead_purchase(uuid, uuid, numeric)', 'EXECUTE')"));
    }

    [Fact]
    public async Task The_owner_role_owns_the_consoles_objects_and_not_the_marketplaces_and_is_no_superuser()
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();

        var foreign = (await connection.QueryAsync<string>("""
            SELECT 'relation ' || c.oid::regclass::text FROM pg_class AS c
            WHERE c.relnamespace = 'ops'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relowner <> 'opsconsole_owner'::regrole
            UNION ALL
            SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc AS p
            WHERE p.pronamespace = 'ops'::regnamespace AND p.proowner <> 'opsconsole_owner'::regrole
            UNION ALL
            SELECT 'schema ops' FROM pg_namespace WHERE nspname = 'ops' AND nspowner <> 'opsconsole_owner'::regrole
            """)).ToList();
        Assert.Empty(foreign);
        // The marketplace's tables and the drop-in's SECURITY DEFINER functions keep their owner (postgres on Supabase):
        // none belongs to a console role, which could otherwise rewrite them.
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("""
            SELECT (SELECT count(*) FROM pg_class
                    WHERE relname IN ('leads', 'workspace_credits', 'marketplace_purchases', 'marketplace_purchase_items', 'audit_logs')
                      AND relnamespace = 'public'::regnamespace
                      AND relowner IN ('opsconsole_owner'::regrole, 'opsconsole_runtime'::regrole, 'opsconsole_probe'::regrole))
                 + (SELECT count(*) FROM pg_proc WHERE prosecdef AND pronamespace = 'public'::regnamespace
                      AND proowner IN ('opsconsole_owner'::regrole, 'opsconsole_runtime'::regrole, 'opsconsole_probe'::regrole))
            """));
        Assert.Equal(5, await connection.ExecuteScalarAsync<int>("""
            SELECT count(*) FROM pg_proc WHERE prosecdef AND pronamespace = 'public'::regnamespace
              AND proname IN ('validate_and_lock_leads_for_purchase', 'complete_credit_lead_purchase',
                              'complete_stripe_lead_purchase', 'mark_leads_sold_bulk', 'release_expired_lead_reservations')
            """));
        Assert.False(await connection.ExecuteScalarAsync<bool>("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = 'opsconsole_owner'"));
        Assert.False(await connection.ExecuteScalarAsync<bool>("""
            SELECT EXISTS (SELECT 1 FROM pg_namespace AS n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a
                           WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')
            """));
    }

    [Fact]
    public async Task The_probe_role_reads_what_the_shipped_checks_read_and_writes_none_of_the_consoles_tables()
    {
        await using var connection = new NpgsqlConnection(database.ProbeConnectionString);
        await connection.OpenAsync();

        Assert.True(await connection.ExecuteScalarAsync<bool>("""
            SELECT bool_and(has_table_privilege(t, 'SELECT'))
            FROM unnest(ARRAY['public.audit_logs', 'public.leads', 'public.marketplace_purchases', 'public.workspace_credits']) AS t
            """));
        // Of the console's own tables it reads none and writes none; what it may do beyond reading on the marketplace's
        // comes with service_role (the EXECUTE the permission check needs), and a check runs read-only (ProbeSandboxTests).
        Assert.False(await connection.ExecuteScalarAsync<bool>("""
            SELECT bool_or(has_table_privilege(c.oid, 'SELECT') OR has_table_privilege(c.oid, 'INSERT')
                           OR has_table_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE'))
            FROM pg_class AS c WHERE c.relnamespace = 'ops'::regnamespace AND c.relkind = 'r'
            """));
        Assert.False(await connection.ExecuteScalarAsync<bool>("SELECT has_schema_privilege('public', 'CREATE') OR pg_has_role('opsconsole_runtime', 'MEMBER')"));
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
