using Dapper;
using Npgsql;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// The drop-in's functions as the console migrates them: the signatures route.ts and the webhook call, SECURITY
/// DEFINER with a fixed search_path, EXECUTE for service_role only (the console's roles through membership).
/// </summary>
public sealed class FunctionSecurityTests(MarketplaceDatabase database) : ContractTest(database), IClassFixture<MarketplaceDatabase>
{
    private static readonly string[] Signatures =
    [
        "validate_and_lock_leads_for_purchase(uuid[], uuid)",
        "complete_credit_lead_purchase(uuid, uuid, numeric)",
        "complete_stripe_lead_purchase(uuid, text)",
        "mark_leads_sold_bulk(uuid[])",
        "release_expired_lead_reservations()",
    ];

    [Fact]
    public async Task Exactly_the_apps_signatures_exist_security_definer_with_a_fixed_search_path()
    {
        var rows = await Data.QueryAsync<(string Signature, bool Definer, string? Config)>("""
            SELECT p.oid::regprocedure::text, p.prosecdef, array_to_string(p.proconfig, ',')
            FROM pg_proc AS p
            WHERE p.pronamespace = 'public'::regnamespace
              AND p.proname IN ('validate_and_lock_leads_for_purchase', 'complete_credit_lead_purchase',
                                'complete_stripe_lead_purchase', 'mark_leads_sold_bulk', 'release_expired_lead_reservations')
            ORDER BY 1
            """, null, Ct);

        Assert.Equal(Signatures.Select(s => s.Replace(", ", ",", StringComparison.Ordinal)).Order(StringComparer.Ordinal), rows.Select(r => r.Signature));
        Assert.All(rows, r => Assert.True(r.Definer, $"{r.Signature} is not SECURITY DEFINER"));
        Assert.All(rows, r => Assert.Equal("search_path=public, pg_temp", r.Config));
    }

    [Fact]
    public async Task Only_service_role_is_granted_execute_and_public_anon_and_authenticated_are_not()
    {
        foreach (var signature in Signatures)
        {
            var (service, pub, anon, authenticated) = await Data.QuerySingleAsync<(bool, bool, bool, bool)>("""
                SELECT has_function_privilege('service_role', @F, 'EXECUTE'),
                       EXISTS (SELECT 1 FROM pg_proc AS p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
                               WHERE p.oid = @F::regprocedure AND a.grantee = 0),
                       has_function_privilege('anon', @F, 'EXECUTE'),
                       has_function_privilege('authenticated', @F, 'EXECUTE')
                """, new { F = "public." + signature }, Ct);
            Assert.True(service, $"service_role cannot execute {signature}");
            Assert.False(pub, $"PUBLIC may execute {signature}");
            Assert.False(anon, $"anon may execute {signature}");
            Assert.False(authenticated, $"authenticated may execute {signature}");
        }
    }

    [Fact]
    public async Task The_consoles_runtime_login_calls_them_through_service_role_and_a_role_without_the_grant_gets_42501()
    {
        await using (var runtime = await OpenUnpooledAsync())
        {
            Assert.True(await runtime.ExecuteScalarAsync<int>(new CommandDefinition("SELECT release_expired_lead_reservations()", cancellationToken: Ct)) >= 0);
        }

        await using var outsider = await Database.DataSource.OpenConnectionAsync(Ct);
        await using var transaction = await outsider.BeginTransactionAsync(Ct);
        await outsider.ExecuteAsync(new CommandDefinition("SET LOCAL ROLE authenticated", transaction: transaction, cancellationToken: Ct));
        var error = await Assert.ThrowsAsync<PostgresException>(() =>
            outsider.ExecuteAsync(new CommandDefinition("SELECT release_expired_lead_reservations()", transaction: transaction, cancellationToken: Ct)));
        Assert.Equal("42501", error.SqlState);
    }
}
