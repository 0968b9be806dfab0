using Dapper;
using Npgsql;

namespace OpsConsole.Testing;

/// <summary>
/// Counts the statements of one kind (INSERT or UPDATE) run on one table, and the rows they touched, through a
/// statement-level trigger: it fires once per statement however many rows the statement changes, so "one set-based
/// statement" and "a loop of statements" read differently (1 against n), whatever the code that ran them.
/// Dispose it to remove the trigger.
/// </summary>
public sealed class StatementCounter : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _table;
    private readonly string _operation;

    private StatementCounter(NpgsqlDataSource dataSource, string table, string operation)
    {
        _dataSource = dataSource;
        _table = table;
        _operation = operation;
    }

    private string Trigger => $"test_count_{_operation.ToLowerInvariant()}_{_table}";

    /// <summary>Starts counting <paramref name="operation"/> statements (INSERT or UPDATE) on <paramref name="table"/> (schema public).</summary>
    public static async Task<StatementCounter> InstallAsync(NpgsqlDataSource dataSource, string table, string operation, CancellationToken cancellationToken = default)
    {
        if (operation is not ("INSERT" or "UPDATE") || !table.All(c => char.IsAsciiLetterLower(c) || c == '_'))
        {
            throw new ArgumentException($"Cannot count {operation} on {table}.");
        }

        var counter = new StatementCounter(dataSource, table, operation);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition($"""
            CREATE TABLE IF NOT EXISTS public.test_statement_counts (table_name text, operation text, row_count bigint);
            CREATE OR REPLACE FUNCTION public.test_count_statement() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                INSERT INTO public.test_statement_counts VALUES (TG_TABLE_NAME, TG_OP, (SELECT count(*) FROM changed));
                RETURN NULL;
            END
            $fn$;
            CREATE TRIGGER {counter.Trigger} AFTER {operation} ON public.{table}
                REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION public.test_count_statement();
            """, cancellationToken: cancellationToken));
        return counter;
    }

    /// <summary>Statements counted so far, and the rows they touched in all.</summary>
    public async Task<(int Statements, long Rows)> ReadAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleAsync<(int, long)>(new CommandDefinition("""
            SELECT count(*)::int, coalesce(sum(row_count), 0)::bigint FROM public.test_statement_counts
            WHERE table_name = @Table AND operation = @Operation
            """, new { Table = _table, Operation = _operation }, cancellationToken: cancellationToken));
    }

    /// <summary>Removes the trigger and forgets the counts.</summary>
    public async ValueTask DisposeAsync()
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync($"""
            DROP TRIGGER IF EXISTS {Trigger} ON public.{_table};
            DELETE FROM public.test_statement_counts WHERE table_name = '{_table}' AND operation = '{_operation}';
            """);
    }
}
