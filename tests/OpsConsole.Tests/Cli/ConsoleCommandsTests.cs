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
        Assert.Contains("at least 12 characters", passwordError);
    }

    [Theory]
    [InlineData("password", "at least 12 characters")]
    [InlineData("eleven-char", "at least 12 characters")]
    [InlineData("dave-the-operator", "must not be or contain the user name")]
    [InlineData("my DAVE-THE-OPERATOR pass", "must not be or contain the user name")]
    [InlineData("1qaz2wsx3edc", "most common passwords")]
    [InlineData("Q1W2E3R4T5Y6", "most common passwords")]
    public async Task Users_add_refuses_a_weak_password_with_a_clear_message_and_stores_nothing(string password, string message)
    {
        var (exitCode, output, error) = await RunAsync(["users", "add", "dave-the-operator", "--role", "support"], password + "\n");

        Assert.Equal(2, exitCode);
        Assert.DoesNotContain("account", output, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(message, error);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM ops.accounts WHERE user_name = 'dave-the-operator'"));
    }

    [Fact]
    public async Task A_weak_new_password_for_an_existing_account_is_refused_and_the_old_one_still_works()
    {
        Assert.Equal(0, (await RunAsync(["users", "add", "erin", "--role", "support"], "a first long passphrase\n")).ExitCode);

        var (exitCode, _, error) = await RunAsync(["users", "add", "erin", "--role", "admin"], "qwerty123456\n");

        Assert.Equal(2, exitCode);
        Assert.Contains("most common passwords", error);
        var accounts = new AccountService(database.DataSource, new Microsoft.AspNetCore.Identity.PasswordHasher<OpsAccount>(), Options.Create(new AccountOptions()));
        var signIn = await accounts.SignInAsync("erin", "a first long passphrase", CancellationToken.None);
        Assert.Equal(SignInOutcome.Succeeded, signIn.Outcome);
        Assert.Equal(OpsRoles.Support, signIn.Account!.Role);
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

    [Fact]
    public async Task Users_disable_disables_the_account_and_says_so_when_there_is_none()
    {
        await RunAsync(["users", "add", "carol", "--role", "support"], "long enough password\n");

        var (disabled, disabledOutput, _) = await RunAsync(["users", "disable", "Carol"], "");
        var (unknown, _, unknownError) = await RunAsync(["users", "disable", "nobody-called-this"], "");

        Assert.Equal(0, disabled);
        Assert.Contains("Disabled account Carol", disabledOutput);
        Assert.Equal(1, unknown);
        Assert.Contains("No account named nobody-called-this", unknownError);
        var accounts = new AccountService(database.DataSource, new Microsoft.AspNetCore.Identity.PasswordHasher<OpsAccount>(), Options.Create(new AccountOptions()));
        Assert.True((await accounts.FindAsync("carol", CancellationToken.None))!.IsDisabled);
        Assert.Equal(SignInOutcome.Failed, (await accounts.SignInAsync("carol", "long enough password", CancellationToken.None)).Outcome);
    }

    // The test cluster is an embedded cluster like the console's: its data folder has the credentials file and the
    // postmaster.pid that the verb reads.
    [Fact]
    public async Task Local_db_prints_a_working_owner_connection_string_from_a_file_only_its_owner_can_read()
    {
        var cluster = database.Server.Cluster;
        var databaseName = new NpgsqlConnectionStringBuilder(database.ConnectionString).Database!;
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await ConsoleCommands.RunAsync(
            ["local-db", $"--Database:Local:DataDirectory={cluster.DataDirectory}", $"--Database:Local:DatabaseName={databaseName}"],
            new StringReader(""), output, error);

        Assert.Equal(0, exitCode);
        var printed = new Uri(output.ToString().Trim());
        Assert.Equal("postgresql", printed.Scheme);
        Assert.Equal("127.0.0.1", printed.Host);
        var userInfo = printed.UserInfo.Split(':', 2);
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder
        {
            Host = printed.Host,
            Port = printed.Port,
            Database = Uri.UnescapeDataString(printed.AbsolutePath.TrimStart('/')),
            Username = Uri.UnescapeDataString(userInfo[0]),
            Password = Uri.UnescapeDataString(userInfo[1]),
        }.ConnectionString);
        Assert.Equal(OpsConsole.Core.Database.ConsoleRoles.OwnerLogin, await connection.ExecuteScalarAsync<string>("SELECT session_user"));
        // The owner login acts as the owner role (ALTER ROLE ... SET role), as migrations do.
        Assert.Equal("opsconsole_owner", await connection.ExecuteScalarAsync<string>("SELECT current_user"));
        Assert.Equal(databaseName, await connection.ExecuteScalarAsync<string>("SELECT current_database()"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, OperatingSystem.IsWindows() ? UnixFileMode.None : File.GetUnixFileMode(cluster.CredentialsFile));
    }

    [Fact]
    public async Task Local_db_without_an_embedded_cluster_says_how_to_get_one()
    {
        var nowhere = Path.Combine(Path.GetTempPath(), $"opsconsole-no-cluster-{Guid.NewGuid():N}");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await ConsoleCommands.RunAsync(["local-db", $"--Database:Local:DataDirectory={nowhere}"], new StringReader(""), output, error);

        Assert.Equal(1, exitCode);
        Assert.Equal("", output.ToString());
        Assert.Contains($"No embedded cluster in {nowhere}", error.ToString());
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
