using System.Collections.Concurrent;
using Dapper;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Npgsql;

namespace OpsConsole.Core.Accounts;

/// <summary>
/// Local accounts in <c>ops.accounts</c>: creating them, and checking a sign-in with lockout after
/// repeated failures. Passwords are hashed with ASP.NET Core Identity's <see cref="PasswordHasher{TUser}"/>.
/// </summary>
public sealed class AccountService(NpgsqlDataSource dataSource, IPasswordHasher<OpsAccount> passwordHasher, IOptions<AccountOptions> options)
{
    private static readonly OpsAccount NobodyForTiming = new(0, "", OpsRoles.Engineer, "", 0, null);

    private readonly Lazy<string> _hashForUnknownNames = new(() => passwordHasher.HashPassword(NobodyForTiming, Guid.NewGuid().ToString()));

    // Failures for names that have no account, kept in memory: they "lock" exactly like real accounts,
    // so the lockout message cannot tell an attacker which names exist.
    private readonly ConcurrentDictionary<string, (int Failures, DateTime LockedUntilUtc)> _unknownNames = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Checks <paramref name="password"/> for <paramref name="userName"/> (case-insensitive).
    /// A wrong password counts a failure and, at <see cref="AccountOptions.MaxFailedAttempts"/>, locks
    /// the account for <see cref="AccountOptions.LockoutDuration"/>; a success resets the count.
    /// </summary>
    public async Task<SignInResult> SignInAsync(string userName, string password, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(userName) || string.IsNullOrEmpty(password))
        {
            return SignInResult.Failed;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<AccountRow>(
            new CommandDefinition(FindSql, new { UserName = userName.Trim() }, cancellationToken: cancellationToken));

        if (row is null)
        {
            // Spend the same time as for a real account, so timing does not tell which half was wrong.
            passwordHasher.VerifyHashedPassword(NobodyForTiming, _hashForUnknownNames.Value, password);
            return RecordUnknownNameFailure(userName.Trim()) ? SignInResult.LockedOut : SignInResult.Failed;
        }

        if (row.IsLocked)
        {
            return SignInResult.LockedOut;
        }

        var account = row.ToAccount();
        var verification = passwordHasher.VerifyHashedPassword(account, account.PasswordHash, password);
        if (verification == PasswordVerificationResult.Failed)
        {
            var lockedNow = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                RecordFailureSql,
                new { account.Id, options.Value.MaxFailedAttempts, LockoutSeconds = options.Value.LockoutDuration.TotalSeconds },
                cancellationToken: cancellationToken));
            return lockedNow ? SignInResult.LockedOut : SignInResult.Failed;
        }

        var newHash = verification == PasswordVerificationResult.SuccessRehashNeeded
            ? passwordHasher.HashPassword(account, password)
            : null;
        await connection.ExecuteAsync(new CommandDefinition(
            RecordSuccessSql, new { account.Id, NewHash = newHash }, cancellationToken: cancellationToken));
        return new SignInResult(SignInOutcome.Succeeded, account);
    }

    private bool RecordUnknownNameFailure(string userName)
    {
        var now = DateTime.UtcNow;
        if (_unknownNames.Count > 10_000)
        {
            // Bounded: drop what is no longer locked (the rate limiter keeps any one client far below this).
            foreach (var stale in _unknownNames.Where(e => e.Value.LockedUntilUtc < now).Select(e => e.Key).ToList())
            {
                _unknownNames.TryRemove(stale, out _);
            }
        }

        var entry = _unknownNames.AddOrUpdate(
            userName,
            _ => Count(1),
            // Still locked: unchanged. Counting: one more. Lock expired: start again.
            (_, e) => e.LockedUntilUtc > now ? e : Count(e.LockedUntilUtc == default ? e.Failures + 1 : 1));
        return entry.LockedUntilUtc > now;

        (int, DateTime) Count(int failures) =>
            (failures, failures >= options.Value.MaxFailedAttempts ? now + options.Value.LockoutDuration : default);
    }

    /// <summary>
    /// Creates the account, or updates its role and password (and lifts any lock) when it exists.
    /// Returns true when it was created.
    /// </summary>
    /// <exception cref="ArgumentException">The name is blank, the role unknown or the password too short.</exception>
    public async Task<bool> UpsertAsync(string userName, string role, string password, CancellationToken cancellationToken)
    {
        var (name, knownRole, hash) = Prepare(userName, role, password);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            UpsertSql, new { UserName = name, Role = knownRole, PasswordHash = hash }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// For the demo: creates the account, or updates its role and password when the demo created it; an account the
    /// demo did not create is left as it is. Returns what happened.
    /// </summary>
    /// <exception cref="ArgumentException">The name is blank, the role unknown or the password too short.</exception>
    public async Task<DemoAccountChange> UpsertDemoAsync(string userName, string role, string password, CancellationToken cancellationToken)
    {
        var (name, knownRole, hash) = Prepare(userName, role, password);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var created = await connection.QuerySingleOrDefaultAsync<bool?>(new CommandDefinition(
            UpsertDemoSql, new { UserName = name, Role = knownRole, PasswordHash = hash }, cancellationToken: cancellationToken));
        return created switch
        {
            true => DemoAccountChange.Created,
            false => DemoAccountChange.Updated,
            null => DemoAccountChange.LeftAlone,
        };
    }

    private (string Name, string Role, string Hash) Prepare(string userName, string role, string password)
    {
        var name = userName?.Trim();
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException("The user name is empty.", nameof(userName));
        }

        var knownRole = OpsRoles.Normalize(role)
            ?? throw new ArgumentException($"Unknown role '{role}'. Roles: {string.Join(", ", OpsRoles.All)}.", nameof(role));
        if (password is null || password.Length < options.Value.MinimumPasswordLength)
        {
            throw new ArgumentException($"The password needs at least {options.Value.MinimumPasswordLength} characters.", nameof(password));
        }

        return (name, knownRole, passwordHasher.HashPassword(new OpsAccount(0, name, knownRole, "", 0, null), password));
    }

    /// <summary>The account named <paramref name="userName"/> (case-insensitive), or null.</summary>
    public async Task<OpsAccount?> FindAsync(string userName, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<AccountRow>(
            new CommandDefinition(FindSql, new { UserName = userName.Trim() }, cancellationToken: cancellationToken));
        return row?.ToAccount();
    }

    private const string FindSql = """
        SELECT id, user_name AS UserName, role, password_hash AS PasswordHash,
               failed_attempts AS FailedAttempts, locked_until AS LockedUntilUtc,
               coalesce(locked_until > now(), false) AS IsLocked
        FROM ops.accounts
        WHERE lower(user_name) = lower(@UserName)
        """;

    // Counts the failure in one statement, so that concurrent wrong guesses cannot slip past the limit;
    // reaching the limit locks the account and starts the count again for after the lock.
    private const string RecordFailureSql = """
        UPDATE ops.accounts
        SET failed_attempts = CASE WHEN failed_attempts + 1 >= @MaxFailedAttempts THEN 0 ELSE failed_attempts + 1 END,
            locked_until = CASE WHEN failed_attempts + 1 >= @MaxFailedAttempts
                                THEN now() + make_interval(secs => @LockoutSeconds)
                                ELSE locked_until END,
            updated_at = now()
        WHERE id = @Id
        RETURNING coalesce(locked_until > now(), false)
        """;

    private const string RecordSuccessSql = """
        UPDATE ops.accounts
        SET failed_attempts = 0,
            locked_until = NULL,
            last_sign_in_at = now(),
            password_hash = coalesce(@NewHash, password_hash)
        WHERE id = @Id
        """;

    private const string UpsertSql = """
        INSERT INTO ops.accounts (user_name, role, password_hash)
        VALUES (@UserName, @Role, @PasswordHash)
        ON CONFLICT (lower(user_name)) DO UPDATE
        SET role = excluded.role,
            password_hash = excluded.password_hash,
            failed_attempts = 0,
            locked_until = NULL,
            created_by_demo = false,
            updated_at = now()
        RETURNING xmax = 0
        """;

    // No row comes back when the name belongs to an account the demo did not create.
    private const string UpsertDemoSql = """
        INSERT INTO ops.accounts (user_name, role, password_hash, created_by_demo)
        VALUES (@UserName, @Role, @PasswordHash, true)
        ON CONFLICT (lower(user_name)) DO UPDATE
        SET role = excluded.role,
            password_hash = excluded.password_hash,
            failed_attempts = 0,
            locked_until = NULL,
            updated_at = now()
        WHERE ops.accounts.created_by_demo
        RETURNING xmax = 0
        """;

    private sealed record AccountRow(long Id, string UserName, string Role, string PasswordHash, int FailedAttempts, DateTime? LockedUntilUtc, bool IsLocked)
    {
        public OpsAccount ToAccount() => new(Id, UserName, Role, PasswordHash, FailedAttempts, LockedUntilUtc);
    }
}
