using Npgsql;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// The balance guard of 0001: no balance becomes negative or more negative, while a row that drifted below zero
/// before the migration still takes updates that do not make it worse.
/// </summary>
public sealed class NegativeBalanceGuardTests(MarketplaceDatabase database) : ContractTest(database), IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task A_seller_whose_balance_drifted_below_zero_is_still_paid_for_a_lead_sold_by_card()
    {
        var seller = await Data.WorkspaceWithCreditsAsync(0m, Ct);
        var buyer = await Data.WorkspaceWithoutCreditsAsync(Ct);
        var lead = await Data.ListedLeadAsync(seller, 10m, Ct);
        await DriftBelowZeroAsync(seller);

        var reservation = await Data.ReserveAsync(buyer, [lead], "stripe", Ct);
        var payment = await Data.CompleteStripeAsync(reservation.PurchaseId, "evt_negative_seller", "pi_negative_seller", Ct);

        Assert.Equal("completed", payment.Status);
        Assert.Equal(-40m, (await Data.CreditsAsync(seller, Ct))!.Balance);
    }

    [Fact]
    public async Task An_update_that_makes_a_negative_balance_more_negative_is_refused_with_23514()
    {
        var workspace = await Data.WorkspaceWithCreditsAsync(0m, Ct);
        await DriftBelowZeroAsync(workspace);

        var error = await Assert.ThrowsAsync<PostgresException>(() =>
            Data.ExecuteAsync("UPDATE workspace_credits SET balance = -60 WHERE workspace_id = @Id", new { Id = workspace }, Ct));

        Assert.Equal("23514", error.SqlState);
        Assert.Equal(-50m, (await Data.CreditsAsync(workspace, Ct))!.Balance);
    }

    [Theory]
    [InlineData("UPDATE workspace_credits SET balance = -0.01 WHERE workspace_id = @Id")]
    [InlineData("INSERT INTO workspace_credits (workspace_id, balance) SELECT id, -1 FROM workspaces WHERE id = @Other")]
    public async Task A_write_that_makes_a_balance_negative_is_refused_with_23514(string sql)
    {
        var workspace = await Data.WorkspaceWithCreditsAsync(5m, Ct);
        var other = await Data.WorkspaceWithoutCreditsAsync(Ct);

        var error = await Assert.ThrowsAsync<PostgresException>(() => Data.ExecuteAsync(sql, new { Id = workspace, Other = other }, Ct));

        Assert.Equal("23514", error.SqlState);
        Assert.Equal(5m, (await Data.CreditsAsync(workspace, Ct))!.Balance);
        Assert.Null(await Data.CreditsAsync(other, Ct));
    }

    // Drift written before the migration existed: the triggers did not run then, so they do not run here.
    private Task DriftBelowZeroAsync(Guid workspace) => Data.ExecuteAsync("""
        SET LOCAL session_replication_role = replica;
        UPDATE workspace_credits SET balance = -50, total_used = total_used + 50 WHERE workspace_id = @Id;
        """, new { Id = workspace }, Ct);
}
