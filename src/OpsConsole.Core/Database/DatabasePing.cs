using System.Net.Sockets;
using Dapper;
using Npgsql;

namespace OpsConsole.Core.Database;

/// <summary>
/// Whether the database answers, asked one way: the health endpoint, the banner's probe and sign-in all use this
/// ping and <see cref="IsDatabaseFailure"/> to tell "the database did not answer" from a bug.
/// </summary>
public sealed class DatabasePing(NpgsqlDataSource dataSource)
{
    /// <summary>A cheap <c>SELECT 1</c> on a fresh or pooled connection; throws when the database does not answer.</summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: cancellationToken));
    }

    /// <summary>Drops pooled connections: after a server restart they are dead, and the next caller should get fresh ones.</summary>
    public void ClearPool() => dataSource.Clear();

    /// <summary>
    /// Whether <paramref name="exception"/> means "the database did not answer" (no connection, the connection lost,
    /// the server shutting down or full, a timeout) rather than a bug. An error the server answered with, such as a
    /// syntax error or a constraint violation, is a bug and goes to the error boundary.
    /// </summary>
    public static bool IsDatabaseFailure(Exception? exception) => exception switch
    {
        null => false,
        PostgresException postgres => IsUnavailable(postgres.SqlState),
        NpgsqlException npgsql => npgsql.IsTransient || IsDatabaseFailure(npgsql.InnerException),
        TimeoutException or SocketException or IOException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsDatabaseFailure),
        _ => IsDatabaseFailure(exception.InnerException),
    };

    // The SQLSTATEs by which a server says it cannot serve now, not that the statement is wrong: connection
    // exceptions (class 08), shutdown and start-up (57P01 to 57P03), too many connections, and a statement cancelled
    // by statement_timeout or an operator (57014: it did not answer in time).
    private static bool IsUnavailable(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal)
        || sqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
            or PostgresErrorCodes.TooManyConnections or PostgresErrorCodes.QueryCanceled;

    /// <summary>The failure in words for the banner and the log (the socket error, not Npgsql's wrapper).</summary>
    public static string Describe(Exception exception) =>
        exception is NpgsqlException { InnerException: { } inner } ? inner.Message : exception.Message;
}
