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
/// Runs a runbook check in a sandbox that the database enforces, not a parser: as the probe login
/// (<see cref="ProbeDataSource"/>, a member of <c>opsconsole_probe</c> only, verified before each check), on a
/// connection of its own, inside <c>BEGIN TRANSACTION READ ONLY</c> under <c>statement_timeout</c>, rolled back
/// afterwards. The check's text is sent as the query of one <c>DECLARE ... CURSOR</c> in one extended-protocol
/// Parse message, so PostgreSQL itself refuses a second statement (42601) and anything but a plain query
/// (a cursor takes SELECT, VALUES or WITH without data-modifying parts), and the rows are then fetched.
/// A refusal, a query error or a timeout is a failed check with the reason as its message.
/// </summary>
public sealed class ProbeRunner(ProbeDataSource probeDataSource, IOptions<DeploymentOptions> options)
{
    /// <summary>The message of a check that cannot run because no probe login is configured.</summary>
    public const string NotConfiguredMessage =
        "Checks are off: ConnectionStrings:MarketplaceProbe is not set (a login that is a member of opsconsole_probe only; see the README, Security).";

    private const string CursorName = "opsconsole_check";

    // What would make the login more than a reader: checks refuse to run as such a login.
    private const string SandboxSql = """
        SET TRANSACTION READ ONLY;
        SELECT set_config('statement_timeout', @timeout, true)
        """;

    private const string LoginCheckSql = """
        SELECT concat_ws(', ',
                   CASE WHEN r.rolsuper THEN 'superuser' END,
                   CASE WHEN r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls THEN 'role attributes beyond LOGIN' END,
                   CASE WHEN NOT coalesce(pg_has_role(session_user, to_regrole('opsconsole_probe'), 'MEMBER'), false) THEN 'not a member of opsconsole_probe' END,
                   (SELECT string_agg('member of ' || g, ', ' ORDER BY g)
                    FROM unnest(ARRAY['opsconsole_owner', 'opsconsole_runtime', 'pg_signal_backend', 'pg_read_server_files',
                                      'pg_write_server_files', 'pg_execute_server_program', 'pg_read_all_data', 'pg_write_all_data']) AS g
                    WHERE coalesce(pg_has_role(session_user, to_regrole(g), 'MEMBER'), false)))
        FROM pg_roles AS r
        WHERE r.rolname = session_user
        """;

    /// <summary>Runs <paramref name="probe"/> and judges its result.</summary>
    public async Task<ProbeExecution> RunAsync(Probe probe, CancellationToken cancellationToken)
    {
        if (probeDataSource.DataSource is not { } dataSource)
        {
            return Refused(probe, NotConfiguredMessage);
        }

        if (!IsQuery(probe.Sql))
        {
            return Refused(probe, "Refused: a check is one SELECT or WITH query.");
        }

        var settings = options.Value;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Never committed: disposing it rolls back, on success, on error and on cancellation alike.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var setup = new NpgsqlCommand(SandboxSql, connection, transaction))
        {
            setup.Parameters.AddWithValue("timeout", ((long)settings.ProbeTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
            await setup.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var loginCheck = new NpgsqlCommand(LoginCheckSql, connection, transaction))
        {
            if (await loginCheck.ExecuteScalarAsync(cancellationToken) is string { Length: > 0 } excess)
            {
                return Refused(probe, $"Refused: the check login {connection.UserName} may do more than read ({excess}); checks run as a member of opsconsole_probe only.");
            }
        }

        var stopwatch = Stopwatch.StartNew();
        try
        {
            // A batch command without parameters reaches PostgreSQL as one Parse message, unsplit by Npgsql.
            await using (var declare = new NpgsqlBatch(connection, transaction))
            {
                declare.BatchCommands.Add(new NpgsqlBatchCommand($"DECLARE {CursorName} NO SCROLL CURSOR FOR\n{probe.Sql}\n"));
                await declare.ExecuteNonQueryAsync(cancellationToken);
            }

            await using var fetch = new NpgsqlCommand($"FETCH ALL FROM {CursorName}", connection, transaction);
            await using var reader = await fetch.ExecuteReaderAsync(cancellationToken);
            var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
            var rows = new List<object?[]>();
            var count = 0;
            var storedChars = 0L;
            var valuesCut = 0;
            var full = false;
            while (await reader.ReadAsync(cancellationToken))
            {
                count++;
                if (rows.Count < settings.MaxStoredRows && !full)
                {
                    var values = new object?[reader.FieldCount];
                    var rowChars = 0L;
                    var rowCut = 0;
                    for (var i = 0; i < values.Length; i++)
                    {
                        var value = await reader.IsDBNullAsync(i, cancellationToken) ? null : ReadValue(reader, i);
                        if (value is string { Length: var length } text && length > settings.MaxStoredValueChars)
                        {
                            value = string.Concat(text.AsSpan(0, settings.MaxStoredValueChars), $"… [cut: {length:N0} characters]");
                            rowCut++;
                        }

                        rowChars += value is string kept ? kept.Length : 16;
                        values[i] = value;
                    }

                    // The first row is always kept (cut values and all), so a check's evidence is never empty.
                    if (rows.Count > 0 && storedChars + rowChars > settings.MaxStoredChars)
                    {
                        full = true;
                    }
                    else
                    {
                        storedChars += rowChars;
                        valuesCut += rowCut;
                        rows.Add(values);
                    }
                }
            }

            stopwatch.Stop();
            var output = new ProbeOutput(columns, rows, count);
            var verdict = probe.Expectation.Evaluate(output);
            if (rows.Count < count || valuesCut > 0)
            {
                var kept = $"{rows.Count:N0} of {count:N0} rows kept";
                var cut = valuesCut > 0 ? $", {valuesCut:N0} values cut to {settings.MaxStoredValueChars:N0} characters" : "";
                verdict = verdict with { Message = $"{verdict.Message} Evidence cut: {kept}{cut} (limits: {settings.MaxStoredRows:N0} rows, {settings.MaxStoredChars:N0} characters)." };
            }

            return new ProbeExecution(probe.Key, probe.Sql, verdict, output, stopwatch.Elapsed);
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

    private static ProbeExecution Refused(Probe probe, string message) =>
        new(probe.Key, probe.Sql, new ProbeVerdict(false, message), new ProbeOutput([], [], 0), TimeSpan.Zero);

    /// <summary>
    /// True when the first word of <paramref name="sql"/>, after comments and opening parentheses, is SELECT or WITH.
    /// A courtesy for a clear message; the cursor is what enforces it.
    /// </summary>
    internal static bool IsQuery(string sql)
    {
        var i = 0;
        while (i < sql.Length)
        {
            if (char.IsWhiteSpace(sql[i]) || sql[i] == '(')
            {
                i++;
            }
            else if (string.CompareOrdinal(sql, i, "--", 0, 2) == 0)
            {
                var end = sql.IndexOf('\n', i);
                i = end < 0 ? sql.Length : end + 1;
            }
            else if (string.CompareOrdinal(sql, i, "/*", 0, 2) == 0)
            {
                var end = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? sql.Length : end + 2;
            }
            else
            {
                break;
            }
        }

        var word = new string(sql.AsSpan(i).TrimStart().ToArray().TakeWhile(char.IsLetter).ToArray());
        return word.Equals("SELECT", StringComparison.OrdinalIgnoreCase) || word.Equals("WITH", StringComparison.OrdinalIgnoreCase);
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
