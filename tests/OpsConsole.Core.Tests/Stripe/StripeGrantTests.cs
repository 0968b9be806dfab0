using Dapper;
using Npgsql;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Stripe;

public sealed class StripeGrantTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Theory]
    [InlineData("INSERT INTO ops.stripe_deliveries (source, signature, outcome, http_status, duration_ms) VALUES ('webhook', 'missing', 'rejected', 400, 1)", true)]
    [InlineData("DELETE FROM ops.stripe_deliveries WHERE received_at < now() - interval '30 days'", true)]
    [InlineData("UPDATE ops.stripe_deliveries SET outcome = 'completed'", false)]
    [InlineData("INSERT INTO ops.stripe_refunds (purchase_id, payment_intent_id, idempotency_key, outcome, error_message, actor_id, actor) VALUES (gen_random_uuid(), 'pi', 'k', 'error', 'm', 'a', 'a')", true)]
    [InlineData("UPDATE ops.stripe_refunds SET outcome = 'issued'", false)]
    [InlineData("DELETE FROM ops.stripe_refunds", false)]
    [InlineData("INSERT INTO ops.stripe_expiry_sweeps (instance, started_at, expired) VALUES ('i', now(), 0)", true)]
    [InlineData("DELETE FROM ops.stripe_expiry_sweeps", false)]
    [InlineData("UPDATE ops.stripe_replays SET applied = 0", false)]
    [InlineData("INSERT INTO ops.stripe_rejections (client, minute, reason, count) VALUES ('x', now(), 'invalid', 1) ON CONFLICT (client, minute, reason) DO UPDATE SET count = ops.stripe_rejections.count + 1", true)]
    [InlineData("DELETE FROM ops.stripe_rejections WHERE minute < now() - interval '1 day'", true)]
    public async Task The_runtime_role_appends_and_reads_the_records_and_deletes_only_old_deliveries(string sql, bool allowed)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("SET LOCAL ROLE opsconsole_runtime", transaction: transaction);

        var error = await Record.ExceptionAsync(() => connection.ExecuteAsync(sql, transaction: transaction));

        if (allowed)
        {
            Assert.Null(error);
        }
        else
        {
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, Assert.IsType<PostgresException>(error).SqlState);
        }
    }
}
