using Dapper;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Accounts;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Accounts;

/// <summary>
/// Issue 11, sessions and sign-in: the lockout holds under parallel attempts, every path does the same work, and the
/// failures of names without an account live in the database under a keyed hash. Against the real database, with
/// the password hasher wrapped so that the tests count (or hold) its calls instead of timing them.
/// Seen failing before the change: 30 parallel guesses all checked the real hash (30, not 5); the right password
/// lifted the lock that five guesses set while it was checked; a locked account checked no password (0 calls, not
/// 1); an unknown name's count started again in a new AccountService (restart); nothing said "unknown account" in the log.
/// </summary>
public sealed class SignInRaceTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private const string Password = "correct horse battery";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Parallel_wrong_guesses_check_no_more_passwords_than_the_limit()
    {
        var hasher = new WatchedHasher();
        await using var services = Build(hasher);
        var accounts = services.GetRequiredService<AccountService>();
        await accounts.UpsertAsync("parallel-guesses", OpsRoles.Support, Password, CancellationToken.None);
        var realHash = (await accounts.FindAsync("parallel-guesses", CancellationToken.None))!.PasswordHash;

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            Task.Run(() => accounts.SignInAsync("parallel-guesses", $"guess {i}", CancellationToken.None))));

        Assert.Equal(5, hasher.VerificationsOf(realHash));
        Assert.Equal(4, outcomes.Count(o => o.Outcome == SignInOutcome.Failed));
        Assert.Equal(26, outcomes.Count(o => o.Outcome == SignInOutcome.LockedOut));
    }

    [Fact]
    public async Task The_right_password_cannot_lift_a_lock_that_wrong_guesses_set_while_it_was_being_checked()
    {
        var hasher = new WatchedHasher { HoldPassword = Password };
        await using var services = Build(hasher);
        var accounts = services.GetRequiredService<AccountService>();
        await accounts.UpsertAsync("held-check", OpsRoles.Support, Password, CancellationToken.None);

        var right = Task.Run(() => accounts.SignInAsync("held-check", Password, CancellationToken.None));
        Assert.True(hasher.Held.Wait(Deadline), "The right password's check never started.");
        var wrong = Enumerable.Range(0, 5)
            .Select(i => Task.Run(() => accounts.SignInAsync("held-check", $"guess {i}", CancellationToken.None)))
            .ToArray();
        // The guesses either finish (nothing holds them back) or queue behind the row lock of the check in progress.
        await WaitUntilAsync(async () => wrong.All(t => t.IsCompleted) || await SessionsWaitingForALockAsync() >= wrong.Length);
        hasher.Release.Set();
        var rightOutcome = await right;
        await Task.WhenAll(wrong);

        var afterwards = await accounts.SignInAsync("held-check", Password, CancellationToken.None);

        Assert.Equal(SignInOutcome.Succeeded, rightOutcome.Outcome);
        // Checked one after the other: the right password first, then five wrong guesses, which lock the account.
        Assert.Equal(SignInOutcome.LockedOut, afterwards.Outcome);
    }

    [Fact]
    public async Task Every_sign_in_path_hashes_the_password_exactly_once()
    {
        var hasher = new WatchedHasher();
        await using var services = Build(hasher);
        var accounts = services.GetRequiredService<AccountService>();
        await accounts.UpsertAsync("same-work", OpsRoles.Support, Password, CancellationToken.None);
        await accounts.UpsertAsync("same-work-locked", OpsRoles.Support, Password, CancellationToken.None);
        await accounts.UpsertAsync("same-work-disabled", OpsRoles.Support, Password, CancellationToken.None);
        await accounts.DisableAsync("same-work-disabled", CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            await accounts.SignInAsync("same-work-locked", $"guess {i}", CancellationToken.None);
        }

        var calls = new Dictionary<string, (SignInOutcome Outcome, int Verifications)>();
        foreach (var (path, name, password) in new[]
        {
            ("unknown name", "same-work-nobody", Password),
            ("wrong password", "same-work", "not the password"),
            ("locked account, right password", "same-work-locked", Password),
            ("disabled account, right password", "same-work-disabled", Password),
            ("right password", "same-work", Password),
        })
        {
            var before = hasher.Verifications;
            var outcome = (await accounts.SignInAsync(name, password, CancellationToken.None)).Outcome;
            calls[path] = (outcome, hasher.Verifications - before);
        }

        Assert.All(calls, c => Assert.True(c.Value.Verifications == 1, $"{c.Key}: {c.Value.Verifications} password checks"));
        Assert.Equal(SignInOutcome.LockedOut, calls["locked account, right password"].Outcome);
        Assert.Equal(SignInOutcome.Failed, calls["disabled account, right password"].Outcome);
        Assert.Equal(SignInOutcome.Succeeded, calls["right password"].Outcome);
    }

    [Fact]
    public async Task An_unknown_names_failures_survive_a_restart_and_are_stored_under_a_hash_not_the_name()
    {
        var name = "Nobody-" + Guid.NewGuid().ToString("N")[..8];
        await using (var first = TestServices.Build(database.ConnectionString))
        {
            var accounts = first.GetRequiredService<AccountService>();
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal(SignInOutcome.Failed, (await accounts.SignInAsync(name, $"guess {i}", CancellationToken.None)).Outcome);
            }
        }

        await using var restarted = TestServices.Build(database.ConnectionString);
        // Another spelling of the same name (case, spaces) counts for it.
        var fifth = await restarted.GetRequiredService<AccountService>().SignInAsync($"  {name.ToUpperInvariant()} ", "guess 4", CancellationToken.None);

        Assert.Equal(SignInOutcome.LockedOut, fifth.Outcome);
        var rowsNamingIt = await database.DataSource.CreateConnection().ExecuteScalarAsync<int>(
            "SELECT count(*) FROM ops.sign_in_failures WHERE position(convert_to(lower(@Name), 'UTF8') IN name_key) > 0 OR position(convert_to(@Name, 'UTF8') IN name_key) > 0",
            new { Name = name });
        Assert.Equal(0, rowsNamingIt);
    }

    [Fact]
    public async Task A_failed_sign_in_is_logged_without_the_name_that_was_typed()
    {
        const string typedName = "Tr0ub4dor&3 typed as the name";
        using var logs = new CapturingLoggerProvider();
        await using var services = TestServices.Build(database.ConnectionString, logs: logs);
        var accounts = services.GetRequiredService<AccountService>();
        await accounts.UpsertAsync("logged-account", OpsRoles.Support, Password, CancellationToken.None);

        for (var i = 0; i < 6; i++)
        {
            await accounts.SignInAsync(typedName, Password, CancellationToken.None);
        }

        await accounts.SignInAsync("LOGGED-account", "not the password", CancellationToken.None);

        await logs.WaitForAsync(m => m.Contains("unknown account (name key ", StringComparison.Ordinal), Deadline);
        Assert.Contains(logs.Messages, m => m.Contains("locked after repeated failures", StringComparison.Ordinal) && m.Contains("unknown account", StringComparison.Ordinal));
        // A known account is named as it is stored, not as it was typed.
        Assert.Contains(logs.Messages, m => m.Contains("Failed sign-in for logged-account", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Messages, m => m.Contains("Tr0ub4dor", StringComparison.OrdinalIgnoreCase) || m.Contains("LOGGED-account", StringComparison.Ordinal));
    }

    private ServiceProvider Build(WatchedHasher hasher) =>
        TestServices.Build(database.ConnectionString, configure: s => s.AddSingleton<IPasswordHasher<OpsAccount>>(hasher));

    private async Task<int> SessionsWaitingForALockAsync()
    {
        await using var connection = database.DataSource.CreateConnection();
        return await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        while (!await condition())
        {
            Assert.False(deadline.IsCancellationRequested, $"Not within {Deadline.TotalSeconds} s.");
            await Task.Delay(50);
        }
    }

    /// <summary>The real hasher, counting its checks; <see cref="HoldPassword"/>'s first check waits for <see cref="Release"/>.</summary>
    private sealed class WatchedHasher : IPasswordHasher<OpsAccount>
    {
        private readonly PasswordHasher<OpsAccount> _inner = new();
        private readonly System.Collections.Concurrent.ConcurrentBag<string> _checkedHashes = [];
        private int _held;

        public string? HoldPassword { get; init; }

        public ManualResetEventSlim Held { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public int Verifications => _checkedHashes.Count;

        public int VerificationsOf(string hash) => _checkedHashes.Count(h => h == hash);

        public string HashPassword(OpsAccount user, string password) => _inner.HashPassword(user, password);

        public PasswordVerificationResult VerifyHashedPassword(OpsAccount user, string hashedPassword, string providedPassword)
        {
            _checkedHashes.Add(hashedPassword);
            if (providedPassword == HoldPassword && Interlocked.Exchange(ref _held, 1) == 0)
            {
                Held.Set();
                Assert.True(Release.Wait(Deadline), "The held check was never released.");
            }

            return _inner.VerifyHashedPassword(user, hashedPassword, providedPassword);
        }
    }
}
