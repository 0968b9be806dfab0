using Npgsql;
using OpsConsole.Core.Credits;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Credits;

/// <summary>The journal is append-only: the console's role may read and append, never change or remove; nobody may.</summary>
public sealed class CreditJournalPrivilegeTests(MarketplaceDatabase database) : CreditTestKit(database), IClassFixture<MarketplaceDatabase>
{
    [Theory]
    [InlineData("UPDATE ops.credit_adjustments SET reason = 'rewritten history'")]
    [InlineData("DELETE FROM ops.credit_adjustments")]
    [InlineData("UPDATE ops.credit_adjustment_events SET status = 'applied'")]
    [InlineData("DELETE FROM ops.credit_adjustment_events")]
    [InlineData("TRUNCATE ops.credit_adjustment_events")]
    public async Task The_runtime_role_cannot_change_or_remove_journal_rows(string sql)
    {
        await MadeAnAdjustmentAsync();
        var written = await WrittenAsync();

        var error = await Assert.ThrowsAsync<PostgresException>(() => AsRuntimeAsync(sql));

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, error.SqlState);
        Assert.Equal(written, await WrittenAsync());
    }

    [Theory]
    [InlineData("UPDATE ops.credit_adjustments SET reason = 'rewritten history'")]
    [InlineData("DELETE FROM ops.credit_adjustment_events")]
    public async Task Not_even_the_owner_can_change_journal_rows(string sql)
    {
        await MadeAnAdjustmentAsync();

        var error = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(sql));

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, error.SqlState);
        Assert.Contains("append-only", error.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_runtime_role_can_do_what_the_editor_needs()
    {
        var workspace = await MadeAnAdjustmentAsync();

        await AsRuntimeAsync($"""
            SELECT * FROM ops.credit_adjustments, ops.credit_adjustment_events LIMIT 1;
            SELECT * FROM workspace_credits WHERE workspace_id = '{workspace}' FOR UPDATE;
            UPDATE workspace_credits SET balance = balance + 1, updated_at = now() WHERE workspace_id = '{workspace}';
            INSERT INTO ops.credit_adjustments (workspace_id, balance_delta, reason, maker_id, maker_name, seen_version, before, after)
            VALUES ('{workspace}', 1, 'written as the runtime role', 'local:1', 'support', 'v', '[]', '[]');
            INSERT INTO ops.credit_adjustment_events (adjustment_id, workspace_id, status, actor_id, actor_name)
            SELECT max(id), '{workspace}', 'applied', 'local:1', 'support' FROM ops.credit_adjustments;
            INSERT INTO audit_logs (action, workspace_id, actor) VALUES ('credit_adjustment', '{workspace}', 'support');
            """);
    }

    private async Task<Guid> MadeAnAdjustmentAsync()
    {
        var workspace = await WorkspaceAsync(10m, 10m);
        Succeeds(await Service.AdjustAsync(Support, new AdjustmentRequest(workspace, await VersionAsync(workspace), new CreditDeltas(1m, 1m, 0, 0), "A journal row to protect", null), Ct));
        return workspace;
    }

    private async Task AsRuntimeAsync(string sql)
    {
        await using var connection = await DataSource.OpenConnectionAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        await using var command = new NpgsqlCommand("SET LOCAL ROLE opsconsole_runtime; " + sql, connection, transaction);
        await command.ExecuteNonQueryAsync(Ct);
        await transaction.CommitAsync(Ct);
    }
}
