using System.Data;
using System.Text.Json;
using Dapper;
using Npgsql;
using OpsConsole.Core.Actions;

namespace OpsConsole.Core.Database;

/// <summary>
/// The one way a Core action changes data: open a connection, begin, then the action's own steps (lock, check,
/// write, timeline or audit row) against <see cref="OpsTransaction"/>, and commit only when the action succeeded.
/// A refusal or an exception rolls everything back, so a refused request leaves nothing behind.
/// </summary>
public sealed class OpsTransactions(NpgsqlDataSource dataSource)
{
    /// <summary>Runs <paramref name="work"/> in one transaction; commits when it returns a success.</summary>
    public Task<OpsResult<T>> RunAsync<T>(
        Func<OpsTransaction, Task<OpsResult<T>>> work, CancellationToken cancellationToken, IsolationLevel isolation = IsolationLevel.ReadCommitted) =>
        RunCoreAsync(work, cancellationToken, isolation);

    /// <summary>Runs <paramref name="work"/> in one transaction; commits when it returns a success.</summary>
    public Task<OpsResult> RunAsync(
        Func<OpsTransaction, Task<OpsResult>> work, CancellationToken cancellationToken, IsolationLevel isolation = IsolationLevel.ReadCommitted) =>
        RunCoreAsync(work, cancellationToken, isolation);

    private async Task<TResult> RunCoreAsync<TResult>(
        Func<OpsTransaction, Task<TResult>> work, CancellationToken cancellationToken, IsolationLevel isolation)
        where TResult : OpsResult
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(isolation, cancellationToken);
        var result = await work(new OpsTransaction(connection, transaction, cancellationToken));
        if (result.Succeeded)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        return result;
    }
}

/// <summary>An open transaction with Dapper shortcuts that always pass the transaction and the token.</summary>
public sealed class OpsTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
{
    private static readonly JsonSerializerOptions AuditJson = new(JsonSerializerDefaults.Web);

    /// <summary>The connection, for stores that take one.</summary>
    public NpgsqlConnection Connection => connection;

    /// <summary>The transaction, for stores that take one.</summary>
    public NpgsqlTransaction Transaction => transaction;

    /// <summary>The action's token.</summary>
    public CancellationToken CancellationToken => cancellationToken;

    /// <summary>Runs a statement; returns the rows affected.</summary>
    public Task<int> ExecuteAsync(string sql, object? parameters = null) =>
        connection.ExecuteAsync(Command(sql, parameters));

    /// <summary>Rows of a query.</summary>
    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters = null) =>
        (await connection.QueryAsync<T>(Command(sql, parameters))).AsList();

    /// <summary>The one row of a query, or default when it returns none.</summary>
    public Task<T?> QuerySingleOrDefaultAsync<T>(string sql, object? parameters = null) =>
        connection.QuerySingleOrDefaultAsync<T>(Command(sql, parameters));

    /// <summary>The one row of a query.</summary>
    public Task<T> QuerySingleAsync<T>(string sql, object? parameters = null) =>
        connection.QuerySingleAsync<T>(Command(sql, parameters));

    /// <summary>
    /// Writes the contract's <c>audit_logs</c> row for this action, in this transaction: it commits with the change or
    /// not at all. <paramref name="details"/> is serialised as JSON (camelCase) and carries the actor's identity.
    /// </summary>
    public Task<long> AuditAsync(string action, Guid? workspaceId, OpsActor actor, object details)
    {
        const string sql = """
            INSERT INTO audit_logs (action, workspace_id, actor, details)
            VALUES (@Action, @WorkspaceId, @Actor, @Details::jsonb)
            RETURNING id
            """;
        var json = JsonSerializer.Serialize(new { actorId = actor.Id, details }, AuditJson);
        return QuerySingleAsync<long>(sql, new { Action = action, WorkspaceId = workspaceId, Actor = actor.AuditName, Details = json });
    }

    private CommandDefinition Command(string sql, object? parameters) =>
        new(sql, parameters, transaction, cancellationToken: cancellationToken);
}
