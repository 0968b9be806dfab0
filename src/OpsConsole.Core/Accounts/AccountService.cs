using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace OpsConsole.Core.Accounts;

/// <summary>
/// Local accounts in <c>ops.accounts</c>: creating them, and checking a sign-in with lockout after
/// repeated failures. Passwords are hashed with ASP.NET Core Identity's <see cref="PasswordHasher{TUser}"/>.
/// </summary>
public sealed class AccountService(
    NpgsqlDataSource dataSource,
    IPasswordHasher<OpsAccount> passwordHasher,
    IOptions<AccountOptions> options,
    ILogger<AccountService>? logger = null)
{
    private static readonly OpsAccount NobodyForTiming = new(0, "", OpsRoles.Engineer, "", 0, null);

    private readonly Lazy<string> _hashForTiming = new(() => passwordHasher.HashPassword(NobodyForTiming, Guid.NewGuid().ToString()));
    private readonly ILogger _logger = logger ?? NullLogger<AccountService>.Instance;
    private byte[]? _nameKeySecret;

    /// <summary>
    /// Checks <paramref name="password"/> for <paramref name="userName"/> (case-insensitive).
    /// A wrong password counts a failure and, at <see cref="AccountOptions.MaxFailedAttempts"/>, locks
    /// the account for <see cref="AccountOptions.LockoutDuration"/>; a success resets the count.
    /// The account row stays locked (<c>FOR UPDATE</c>) from reading it to recording the outcome, so parallel
    /// attempts are checked one after the other: they cannot get past the limit, and a right password cannot lift
    /// a lock that another attempt set meanwhile. Every path hashes the password once (an unknown name, a locked
    /// or disabled account too), so the time taken does not tell which names exist. Names without an account
    /// lock the same way, counted in <c>ops.sign_in_failures</c> under a keyed hash of the name.
    /// </summary>
    public async Task<SignInResult> SignInAsync(string userName, string password, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(userName) || string.IsNullOrEmpty(password))
        {
            return SignInResult.Failed;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<AccountRow>(new CommandDefinition(
            FindSql + " FOR UPDATE", new { UserName = userName.Trim() }, transaction, cancellationToken: cancellationToken));

        if (row is null)
        {
            SpendTheTimeOfAPasswordCheck(password);
            var nameKey = await NameKeyAsync(connection, transaction, userName, cancellationToken);
            var locked = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                RecordUnknownNameFailureSql,
                new { NameKey = nameKey, options.Value.MaxFailedAttempts, LockoutSeconds = options.Value.LockoutDuration.TotalSeconds },
                transaction,
                cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            var shortKey = Convert.ToHexStringLower(nameKey, 0, 6);
            if (locked)
            {
                _logger.LogWarning("Sign-in refused for an unknown account (name key {NameKey}): locked after repeated failures", shortKey);
                return SignInResult.LockedOut;
            }

            _logger.LogInformation("Failed sign-in for an unknown account (name key {NameKey})", shortKey);
            return SignInResult.Failed;
        }

        var account = row.ToAccount();
        if (account.IsDisabled || row.IsLocked)
        {
            // Released before the hash, which only evens out the time: a burst of attempts on a locked account must
            // not queue one hash after another behind the row lock (thirty such attempts outlasted the command
            // timeout on a loaded machine), nor hold the account up for its owner meanwhile.
            await transaction.CommitAsync(cancellationToken);
            SpendTheTimeOfAPasswordCheck(password);
            if (account.IsDisabled)
            {
                _logger.LogWarning("Sign-in refused for {UserName}: the account is disabled", account.UserName);
                return SignInResult.Failed;
            }

            _logger.LogWarning("Sign-in refused for {UserName}: locked after repeated failures", account.UserName);
            return SignInResult.LockedOut;
        }

        var verification = passwordHasher.VerifyHashedPassword(account, account.PasswordHash, password);
        if (verification == PasswordVerificationResult.Failed)
        {
            var lockedNow = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                RecordFailureSql,
                new { account.Id, options.Value.MaxFailedAttempts, LockoutSeconds = options.Value.LockoutDuration.TotalSeconds },
                transaction,
                cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            _logger.LogInformation(
                lockedNow ? "Failed sign-in for {UserName}: the account is now locked" : "Failed sign-in for {UserName}", account.UserName);
            return lockedNow ? SignInResult.LockedOut : SignInResult.Failed;
        }

        var newHash = verification == PasswordVerificationResult.SuccessRehashNeeded
            ? passwordHasher.HashPassword(account, password)
            : null;
        // A new hash gives the account a new stamp (the trigger of 0070): the cookie gets the one written here.
        var stamp = await connection.ExecuteScalarAsync<Guid>(new CommandDefinition(
            RecordSuccessSql, new { account.Id, NewHash = newHash }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return new SignInResult(SignInOutcome.Succeeded, account with { SecurityStamp = stamp, FailedAttempts = 0, LockedUntilUtc = null });
    }

    private void SpendTheTimeOfAPasswordCheck(string password) =>
        passwordHasher.VerifyHashedPassword(NobodyForTiming, _hashForTiming.Value, password);

    /// <summary>
    /// A keyed hash (HMAC-SHA256, key in <c>ops.sign_in_secret</c>) of the trimmed, case-folded name: what counts
    /// the failures of a name without an account and names it in the log, so that a password typed into the name
    /// field is kept nowhere in clear.
    /// </summary>
    private async Task<byte[]> NameKeyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string userName, CancellationToken cancellationToken)
    {
        _nameKeySecret ??= await connection.ExecuteScalarAsync<byte[]>(new CommandDefinition(
            "SELECT key FROM ops.sign_in_secret", transaction: transaction, cancellationToken: cancellationToken))
            ?? throw new InvalidOperationException("ops.sign_in_secret has no key: the database is not migrated to 0070.");
        var normalized = userName.Trim().Normalize(NormalizationForm.FormKC).ToLowerInvariant();
        return HMACSHA256.HashData(_nameKeySecret, Encoding.UTF8.GetBytes(normalized));
    }

    /// <summary>
    /// Creates the account, or updates its role and password (and lifts any lock) when it exists.
    /// Returns true when it was created.
    /// </summary>
    /// <exception cref="ArgumentException">The name is blank, the role unknown or the password too weak (<see cref="PasswordPolicy"/>).</exception>
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
    /// <exception cref="ArgumentException">The name is blank, the role unknown or the password too weak (<see cref="PasswordPolicy"/>).</exception>
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
        // Callers outside nullable code (the CLI's reader) may still pass null.
        password ??= "";
        if (PasswordPolicy.Problem(name, password, options.Value.MinimumPasswordLength) is { } weak)
        {
            throw new ArgumentException(weak, nameof(password));
        }

        return (name, knownRole, passwordHasher.HashPassword(new OpsAccount(0, name, knownRole, "", 0, null), password));
    }

    /// <summary>
    /// Disables the account: it can no longer sign in, and its sessions end (new security stamp) within
    /// <see cref="AccountOptions.RevalidationInterval"/>. <c>users add</c> enables it again. False when there is no such account.
    /// </summary>
    public async Task<bool> DisableAsync(string userName, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            DisableSql, new { UserName = userName.Trim() }, cancellationToken: cancellationToken)) > 0;
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
               coalesce(locked_until > now(), false) AS IsLocked,
               security_stamp AS SecurityStamp, disabled_at AS DisabledAtUtc
        FROM ops.accounts
        WHERE lower(user_name) = lower(@UserName)
        """;

    private const string DisableSql = """
        UPDATE ops.accounts SET disabled_at = coalesce(disabled_at, now()), updated_at = now()
        WHERE lower(user_name) = lower(@UserName)
        """;

    // Unknown names count like accounts: reaching the limit locks the name; while locked, an attempt changes nothing;
    // once the lock is over the count starts again. Names nobody tried for a day are dropped on the way.
    private const string RecordUnknownNameFailureSql = """
        INSERT INTO ops.sign_in_failures AS f (name_key, failed_attempts, locked_until)
        VALUES (@NameKey,
                CASE WHEN 1 >= @MaxFailedAttempts THEN 0 ELSE 1 END,
                CASE WHEN 1 >= @MaxFailedAttempts THEN now() + make_interval(secs => @LockoutSeconds) END)
        ON CONFLICT (name_key) DO UPDATE
        SET failed_attempts = CASE WHEN f.locked_until > now() THEN f.failed_attempts
                                   WHEN f.failed_attempts + 1 >= @MaxFailedAttempts THEN 0
                                   ELSE f.failed_attempts + 1 END,
            locked_until = CASE WHEN f.locked_until > now() THEN f.locked_until
                                WHEN f.failed_attempts + 1 >= @MaxFailedAttempts THEN now() + make_interval(secs => @LockoutSeconds)
                                END,
            updated_at = now()
        RETURNING coalesce(locked_until > now(), false);
        DELETE FROM ops.sign_in_failures
        WHERE updated_at < now() - interval '1 day' AND coalesce(locked_until < now(), true);
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
        RETURNING security_stamp
        """;

    private const string UpsertSql = """
        INSERT INTO ops.accounts (user_name, role, password_hash)
        VALUES (@UserName, @Role, @PasswordHash)
        ON CONFLICT (lower(user_name)) DO UPDATE
        SET role = excluded.role,
            password_hash = excluded.password_hash,
            failed_attempts = 0,
            locked_until = NULL,
            disabled_at = NULL,
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

    private sealed record AccountRow(
        long Id, string UserName, string Role, string PasswordHash, int FailedAttempts, DateTime? LockedUntilUtc, bool IsLocked,
        Guid SecurityStamp, DateTime? DisabledAtUtc)
    {
        public OpsAccount ToAccount() => new(Id, UserName, Role, PasswordHash, FailedAttempts, LockedUntilUtc, SecurityStamp, DisabledAtUtc);
    }
}
