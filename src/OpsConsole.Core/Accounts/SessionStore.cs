using Dapper;
using Npgsql;

namespace OpsConsole.Core.Accounts;

/// <summary>
/// Server-side sign-in sessions in <c>ops.sessions</c>, shared by every console instance: the sign-in cookie names a
/// row, and a session is over once its row is gone (signed out, expired, or its account got a new security stamp,
/// which deletes the account's rows: migration 0100). The ticket is opaque here; the web app serializes it.
/// </summary>
public sealed class SessionStore(NpgsqlDataSource dataSource)
{
    /// <summary>Stores a new session; expired rows of anyone are removed on the way.</summary>
    public async Task CreateAsync(Guid id, long? accountId, string userName, byte[] ticket, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            CreateSql,
            new { Id = id, AccountId = accountId, UserName = userName, Ticket = ticket, ExpiresAt = expiresAt.UtcDateTime, Now = now.UtcDateTime },
            cancellationToken: cancellationToken));
    }

    /// <summary>The ticket of a session that exists and has not expired at <paramref name="now"/>, or null.</summary>
    public async Task<byte[]?> FindAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<byte[]?>(new CommandDefinition(
            FindSql, new { Id = id, Now = now.UtcDateTime }, cancellationToken: cancellationToken));
    }

    /// <summary>Whether the session exists and has not expired at <paramref name="now"/>.</summary>
    public async Task<bool> IsActiveAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            IsActiveSql, new { Id = id, Now = now.UtcDateTime }, cancellationToken: cancellationToken));
    }

    /// <summary>Replaces the ticket of a session that still exists (a renewal never brings an ended session back).</summary>
    public async Task RenewAsync(Guid id, byte[] ticket, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            RenewSql, new { Id = id, Ticket = ticket, ExpiresAt = expiresAt.UtcDateTime, Now = now.UtcDateTime }, cancellationToken: cancellationToken));
    }

    /// <summary>Ends the session.</summary>
    public async Task RemoveAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(RemoveSql, new { Id = id }, cancellationToken: cancellationToken));
    }

    private const string CreateSql = """
        INSERT INTO ops.sessions (id, account_id, user_name, ticket, created_at, renewed_at, expires_at)
        VALUES (@Id, @AccountId, @UserName, @Ticket, @Now, @Now, @ExpiresAt);
        DELETE FROM ops.sessions WHERE expires_at <= @Now;
        """;

    private const string FindSql = "SELECT ticket FROM ops.sessions WHERE id = @Id AND expires_at > @Now";

    private const string IsActiveSql = "SELECT EXISTS (SELECT 1 FROM ops.sessions WHERE id = @Id AND expires_at > @Now)";

    private const string RenewSql = """
        UPDATE ops.sessions SET ticket = @Ticket, expires_at = @ExpiresAt, renewed_at = @Now
        WHERE id = @Id AND expires_at > @Now
        """;

    private const string RemoveSql = "DELETE FROM ops.sessions WHERE id = @Id";
}
