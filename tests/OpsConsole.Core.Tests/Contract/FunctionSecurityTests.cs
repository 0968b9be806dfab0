using Dapper;
using Npgsql;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>Who may call the five functions, and with whose rights they run.</summary>
public sealed class FunctionSecurityTests(MarketplaceDatabase database) : ContractTest(database), IClassFixture<MarketplaceDatabase>
{
    private static readonly string[] Signatures =
    [
        "validate_and_lock_leads_for_purchase(uuid, uuid[], text)",
        "complete_credit_lead_purchase(uuid)",
        "complete_stripe_lead_purchase(uuid, text, text)",
        "mark_leads_sold_bulk(uuid, uuid[])",
        "release_expired_lead_reservations()",
    ];

    public static TheoryData<string> Calls => new()
    {
        "SELECT * FROM validate_and_lock_leads_for_purchase(NULL, NULL, NULL)",
        "SELECT * FROM complete_credit_lead_purchase(NULL)",
        "SELECT * FROM complete_stripe_lead_purchase(NULL, NULL, NULL)",
        "SELECT mark_leads_sold_bulk(NULL, NULL)",
        "SELECT release_expired_lead_reservations()",
    };

    [Fact]
    public async Task Service_role_has_EXECUTE_on_all_five_functions()
    {
        foreach (var signature in Signatures)
        {
            var granted = await Data.QuerySingleAsync<bool>(
                "SELECT has_function_privilege('service_role', @Signature, 'EXECUTE')", new { Signature = "public." + signature }, Ct);
            Assert.True(granted, $"service_role cannot execute {signature}");
        }
    }

    [Fact]
    public async Task Public_has_no_privilege_on_any_of_the_five_functions()
    {
        // A NULL proacl means the default ACL, which grants EXECUTE to PUBLIC.
        var open = await Data.QueryAsync<string>("""
            SELECT p.oid::regprocedure::text
            FROM pg_proc AS p
            WHERE p.oid = ANY (@Signatures::regprocedure[])
              AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) AS a WHERE a.grantee = 0))
            """, new { Signatures = Signatures.Select(s => "public." + s).ToArray() }, Ct);

        Assert.Empty(open);
    }

    [Fact]
    public async Task All_five_functions_are_security_definer_with_a_fixed_search_path()
    {
        var functions = await Data.QueryAsync<(string Name, bool SecurityDefiner, string? Config)>("""
            SELECT p.oid::regprocedure::text, p.prosecdef, array_to_string(p.proconfig, ';')
            FROM pg_proc AS p
            WHERE p.oid = ANY (@Signatures::regprocedure[])
            """, new { Signatures = Signatures.Select(s => "public." + s).ToArray() }, Ct);

        Assert.Equal(5, functions.Count);
        Assert.All(functions, f =>
        {
            Assert.True(f.SecurityDefiner, $"{f.Name} is not SECURITY DEFINER");
            // The fixed search_path, and the generic plans of migration 0090 (nothing else).
            Assert.Equal(["search_path=public, pg_temp", "plan_cache_mode=force_generic_plan"], (f.Config ?? "").Split(';'));
        });
    }

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task A_role_without_the_grant_is_refused_with_42501(string call)
    {
        await using var connection = await Database.DataSource.OpenConnectionAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        // Roles are cluster-wide; created inside the transaction, this one disappears with its rollback.
        var role = $"outsider_{Guid.NewGuid():N}";
        await connection.ExecuteAsync(new CommandDefinition($"CREATE ROLE {role} NOLOGIN; SET LOCAL ROLE {role}", transaction: transaction, cancellationToken: Ct));

        var error = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync(new CommandDefinition(call, transaction: transaction, cancellationToken: Ct)));

        Assert.Equal("42501", error.SqlState);
    }

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task Service_role_gets_past_the_privilege_check_and_the_function_runs_with_its_owners_rights(string call)
    {
        await using var connection = await Database.DataSource.OpenConnectionAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        await connection.ExecuteAsync(new CommandDefinition("SET LOCAL ROLE service_role", transaction: transaction, cancellationToken: Ct));

        // service_role has no privilege on the tables: only SECURITY DEFINER lets the function read them.
        // With NULL arguments the functions refuse the input (22023); release has none and succeeds.
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(call, transaction: transaction, cancellationToken: Ct));
            Assert.Contains("release_expired_lead_reservations", call, StringComparison.Ordinal);
        }
        catch (PostgresException error)
        {
            Assert.Equal("22023", error.SqlState);
        }
    }

    [Fact]
    public async Task Deployment_guide_step_2_verification_queries_give_the_expected_answers()
    {
        var functions = await Data.QueryAsync<(string Name, string Type)>("""
            SELECT routine_name, routine_type
            FROM information_schema.routines
            WHERE routine_schema = 'public'
              AND routine_name IN (
                'validate_and_lock_leads_for_purchase',
                'complete_credit_lead_purchase',
                'complete_stripe_lead_purchase',
                'mark_leads_sold_bulk'
              )
            """, null, Ct);
        var columns = await Data.QueryAsync<(string Name, string Type)>("""
            SELECT column_name, data_type
            FROM information_schema.columns
            WHERE table_name = 'leads'
              AND column_name IN ('sold_at', 'marketplace_status')
            """, null, Ct);
        var privileges = await Data.QueryAsync<(string Routine, string Grantee, string Privilege)>("""
            SELECT routine_name, grantee, privilege_type
            FROM information_schema.routine_privileges
            WHERE routine_schema = 'public'
              AND routine_name LIKE '%lead%purchase%'
            """, null, Ct);

        Assert.Equal(4, functions.Count);
        Assert.All(functions, f => Assert.Equal("FUNCTION", f.Type));
        Assert.Equal(
            [("marketplace_status", "text"), ("sold_at", "timestamp with time zone")],
            columns.OrderBy(c => c.Name, StringComparer.Ordinal));
        Assert.Equal(
            ["complete_credit_lead_purchase", "complete_stripe_lead_purchase", "validate_and_lock_leads_for_purchase"],
            privileges.Where(p => p is { Grantee: "service_role", Privilege: "EXECUTE" }).Select(p => p.Routine).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(privileges, p => p.Grantee == "PUBLIC");
    }
}
