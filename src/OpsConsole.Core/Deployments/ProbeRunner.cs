using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using Npgsql;

namespace OpsConsole.Core.Deployments;

/// <summary>What one probe execution found, before it is stored.</summary>
/// <param name="ProbeKey">The probe.</param>
/// <param name="Sql">The query that ran.</param>
/// <param name="Verdict">Pass or fail, and why.</param>
/// <param name="Output">Columns and rows (empty when the query failed).</param>
/// <param name="Duration">How long the query took.</param>
public sealed record ProbeExecution(string ProbeKey, string Sql, ProbeVerdict Verdict, ProbeOutput Output, TimeSpan Duration);

/// <summary>
/// Runs probes the safe way: each on its own connection, inside <c>BEGIN TRANSACTION READ ONLY</c> with a
/// <c>statement_timeout</c>, rolled back afterwards, so a probe can neither change data nor hold a lock or a
/// connection for long. A query error or a timeout is a failed check with the error as its message.
/// </summary>
public sealed class ProbeRunner(NpgsqlDataSource dataSource, IOptions<DeploymentOptions> options)
{
    /// <summary>Runs <paramref name="probe"/> and judges its result.</summary>
    public async Task<ProbeExecution> RunAsync(Probe probe, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Never committed: disposing it rolls back, on success, on error and on cancellation alike.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var setup = new NpgsqlCommand(
            "SET TRANSACTION READ ONLY; SELECT set_config('statement_timeout', @timeout, true)", connection, transaction))
        {
            setup.Parameters.AddWithValue("timeout", ((long)settings.ProbeTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
            await setup.ExecuteNonQueryAsync(cancellationToken);
        }

        var stopwatch = Stopwatch.StartNew();
        try
        {
            await using var command = new NpgsqlCommand(probe.Sql, connection, transaction);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
            var rows = new List<object?[]>();
            var count = 0;
            while (await reader.ReadAsync(cancellationToken))
            {
                count++;
                if (rows.Count < settings.MaxStoredRows)
                {
                    var values = new object?[reader.FieldCount];
                    for (var i = 0; i < values.Length; i++)
                    {
                        values[i] = await reader.IsDBNullAsync(i, cancellationToken) ? null : ReadValue(reader, i);
                    }

                    rows.Add(values);
                }
            }

            stopwatch.Stop();
            var output = new ProbeOutput(columns, rows, count);
            return new ProbeExecution(probe.Key, probe.Sql, probe.Expectation.Evaluate(output), output, stopwatch.Elapsed);
        }
        catch (PostgresException error) when (!cancellationToken.IsCancellationRequested)
        {
            stopwatch.Stop();
            var message = error.SqlState == PostgresErrorCodes.QueryCanceled
                ? $"Timed out after {settings.ProbeTimeout.TotalSeconds:0.###} s (statement_timeout)."
                : $"Failed: {error.SqlState} {error.MessageText}";
            return new ProbeExecution(probe.Key, probe.Sql, new ProbeVerdict(false, message), new ProbeOutput([], [], 0), stopwatch.Elapsed);
        }
    }

    // Values Npgsql maps to CLR types the JSON evidence can hold; anything else (intervals, arrays of
    // composite types, ...) is kept as PostgreSQL's own text.
    private static object? ReadValue(NpgsqlDataReader reader, int ordinal)
    {
        try
        {
            return reader.GetValue(ordinal) switch
            {
                string or bool or short or int or long or decimal or double or float or Guid => reader.GetValue(ordinal),
                DateTime dt => dt.Kind == DateTimeKind.Utc ? new DateTimeOffset(dt) : dt,
                DateTimeOffset dto => dto,
                var other => Convert.ToString(other, CultureInfo.InvariantCulture),
            };
        }
        catch (InvalidCastException)
        {
            return reader.GetFieldValue<string>(ordinal);
        }
    }
}
