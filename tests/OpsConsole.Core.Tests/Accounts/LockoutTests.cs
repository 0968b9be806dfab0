using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Accounts;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Accounts;

/// <summary>
/// Lockout after repeated failures, and its end: with a one-second lockout, so that a test sees a lock run out
/// by waiting for it (10 s at most) instead of five minutes.
/// </summary>
public sealed class LockoutTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>, IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private ServiceProvider _services = null!;

    private AccountService Accounts => _services.GetRequiredService<AccountService>();

    public Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?> { ["Accounts:LockoutDuration"] = "00:00:01" };
        _services = TestServices.Build(database.ConnectionString, settings,
            configure: s => s.AddOpsConsoleAccounts(TestServices.Configuration(database.ConnectionString, settings)));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task A_locked_account_takes_the_right_password_again_once_its_lockout_has_run_out()
    {
        await Accounts.UpsertAsync("locks-and-unlocks", OpsRoles.Support, Password, CancellationToken.None);

        var failures = await FailFiveTimesAsync("locks-and-unlocks");
        var afterLock = await WaitUntilNotLockedOutAsync("locks-and-unlocks", Password);

        Assert.Equal([.. Enumerable.Repeat(SignInOutcome.Failed, 4), SignInOutcome.LockedOut], failures);
        Assert.Equal(SignInOutcome.Succeeded, afterLock.Outcome);
        Assert.Equal("locks-and-unlocks", afterLock.Account!.UserName);
    }

    [Fact]
    public async Task An_unknown_name_locks_like_an_account_and_its_lock_runs_out_too_with_the_count_started_again()
    {
        var name = "nobody-" + Guid.NewGuid().ToString("N");

        var failures = await FailFiveTimesAsync(name);
        var afterLock = await WaitUntilNotLockedOutAsync(name, Password);
        var again = await FailAsync(name, 4);

        Assert.Equal([.. Enumerable.Repeat(SignInOutcome.Failed, 4), SignInOutcome.LockedOut], failures);
        Assert.Equal(SignInOutcome.Failed, afterLock.Outcome);
        // The attempt that found the lock over counted as the first failure of a new series: four more lock it again.
        Assert.Equal([.. Enumerable.Repeat(SignInOutcome.Failed, 3), SignInOutcome.LockedOut], again);
    }

    private Task<SignInOutcome[]> FailFiveTimesAsync(string name) => FailAsync(name, 5);

    private async Task<SignInOutcome[]> FailAsync(string name, int times)
    {
        var outcomes = new SignInOutcome[times];
        for (var i = 0; i < outcomes.Length; i++)
        {
            outcomes[i] = (await Accounts.SignInAsync(name, $"wrong guess {i}", CancellationToken.None)).Outcome;
        }

        return outcomes;
    }

    // A locked account answers LockedOut without counting the attempt, so asking again until it does not is harmless.
    private async Task<SignInResult> WaitUntilNotLockedOutAsync(string name, string password)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var result = await Accounts.SignInAsync(name, password, CancellationToken.None);
            if (result.Outcome != SignInOutcome.LockedOut)
            {
                return result;
            }

            Assert.True(clock.Elapsed < Deadline, $"Still locked out {Deadline.TotalSeconds} s after a one-second lockout began.");
            await Task.Delay(100);
        }
    }
}
