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

    /// <summary>Whether <paramref name="exception"/> means "the database did not answer" rather than a bug.</summary>
    public static bool IsDatabaseFailure(Exception? exception) => exception switch
    {
        null => false,
        NpgsqlException or TimeoutException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsDatabaseFailure),
        _ => IsDatabaseFailure(exception.InnerException),
    };

    /// <summary>The failure in words for the banner and the log (the socket error, not Npgsql's wrapper).</summary>
    public static string Describe(Exception exception) =>
        exception is NpgsqlException { InnerException: { } inner } ? inner.Message : exception.Message;
}
