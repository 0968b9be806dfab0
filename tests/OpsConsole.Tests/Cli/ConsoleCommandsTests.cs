using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Cli;
using OpsConsole.Core.Accounts;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Cli;

public sealed class ConsoleCommandsTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task Users_add_reads_the_password_from_standard_input_and_creates_then_updates_the_account()
    {
        var (created, createdOutput, _) = await RunAsync(["users", "add", "Alice", "--role", "support"], "first password\n");
        var (updated, updatedOutput, _) = await RunAsync(["users", "add", "alice", "--role", "ADMIN"], "second password\n");

        Assert.Equal(0, created);
        Assert.Contains("Created account Alice with role support", createdOutput);
        Assert.Equal(0, updated);
        Assert.Contains("Updated account alice with role admin", updatedOutput);

        var accounts = new AccountService(database.DataSource, new Microsoft.AspNetCore.Identity.PasswordHasher<OpsAccount>(), Options.Create(new AccountOptions()));
        Assert.Equal(SignInOutcome.Failed, (await accounts.SignInAsync("alice", "first password", CancellationToken.None)).Outcome);
        var signIn = await accounts.SignInAsync("ALICE", "second password", CancellationToken.None);
        Assert.Equal(SignInOutcome.Succeeded, signIn.Outcome);
        Assert.Equal(OpsRoles.Admin, signIn.Account!.Role);
    }

    [Fact]
    public async Task Users_add_refuses_an_unknown_role_and_a_short_password()
    {
        var (unknownRole, _, roleError) = await RunAsync(["users", "add", "bob", "--role", "owner"], "long enough password\n");
        var (shortPassword, _, passwordError) = await RunAsync(["users", "add", "bob", "--role", "support"], "short\n");

        Assert.Equal(2, unknownRole);
        Assert.Contains("Unknown role 'owner'", roleError);
        Assert.Equal(2, shortPassword);
        Assert.Contains("at least 8 characters", passwordError);
    }

    [Fact]
    public async Task Migrate_applies_every_migration_to_an_empty_database()
    {
        var empty = await database.Server.CreateEmptyDatabaseAsync();
        try
        {
            var (exitCode, output, _) = await RunAsync(["migrate"], "", empty);

            Assert.Equal(0, exitCode);
            Assert.Contains("0010_ops_accounts.sql", output);
            await using var connection = new NpgsqlConnection(empty);
            Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM ops.accounts"));
        }
        finally
        {
            await database.Server.DropDatabaseAsync(empty);
        }
    }

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(string[] args, string input, string? connectionString = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ConsoleCommands.RunAsync(
            [.. args, $"--ConnectionStrings:Marketplace={connectionString ?? database.ConnectionString}"],
            new StringReader(input), output, error);
        return (exitCode, output.ToString(), error.ToString());
    }
}
