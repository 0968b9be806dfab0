using OpsConsole.Cli;
using OpsConsole.Testing;
using OpsConsole.Testing.RealMarketplace;

namespace OpsConsole.Tests.Cli;

/// <summary>The <c>preflight</c> verb on the configured connection string: what it prints and how it exits.</summary>
public sealed class PreflightCommandTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private static readonly CancellationToken Ct = new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

    [Fact]
    public async Task Preflight_on_a_shipped_target_prints_the_fix_the_columns_and_the_plan_and_exits_0()
    {
        await using var target = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.Shipped, Ct);

        var (exitCode, output, error) = await RunAsync(target.ConnectionString);

        Assert.True(exitCode == 0, error);
        Assert.All(
            [
                "Installed fix: shipped (by signature)", "workspace_credits.balance integer", "leads.reserved_until (absent)",
                "drop-in converts workspace_credits.balance from integer to numeric(14,4)", "drop-in replaces complete_credit_lead_purchase(",
                "Rollback: payment_fix_rollback_state does not exist",
            ],
            line => Assert.Contains(line, output));
    }

    [Fact]
    public async Task Preflight_on_a_drop_in_target_prints_the_rollback_with_fractions_rounding()
    {
        await using var target = await RealMarketplaceDatabase.CreateAsync(MarketplaceFix.ShippedThenDropIn, Ct);

        var (exitCode, output, _) = await RunAsync(target.ConnectionString);

        Assert.Equal(0, exitCode);
        Assert.All(
            [
                "Installed fix: our drop-in (body hashes match)", "restores complete_credit_lead_purchase(uuid,uuid,numeric)",
                "converts workspace_credits.balance back from numeric(14,4) to integer (fractions round)", "fractions round:",
            ],
            line => Assert.Contains(line, output));
        Assert.DoesNotContain("  drop-in ", output);
    }

    [Fact]
    public async Task Preflight_on_a_database_that_is_not_a_marketplace_exits_non_zero_and_changes_nothing()
    {
        var empty = await database.Server.CreateEmptyDatabaseAsync(Ct);
        try
        {
            var (exitCode, output, _) = await RunAsync(empty);

            Assert.Equal(ConsoleCommands.NotAMarketplace, exitCode);
            Assert.Contains("Not a marketplace database: missing table(s) leads, workspace_credits", output);
            await using var connection = new Npgsql.NpgsqlConnection(empty);
            await connection.OpenAsync(Ct);
            await using var command = new Npgsql.NpgsqlCommand("SELECT to_regnamespace('ops') IS NULL", connection);
            Assert.Equal(true, await command.ExecuteScalarAsync(Ct));
        }
        finally
        {
            await database.Server.DropDatabaseAsync(empty);
        }
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string connectionString)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ConsoleCommands.RunAsync(["preflight", $"--ConnectionStrings:Marketplace={connectionString}"], new StringReader(""), output, error);
        return (exitCode, output.ToString(), error.ToString());
    }
}
