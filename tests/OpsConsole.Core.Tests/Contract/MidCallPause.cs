using Dapper;
using Npgsql;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Contract;

/// <summary>
/// Stops any call half way, at its first write to a table, so that a test can kill it there: a row trigger on the
/// table waits for an advisory lock this object holds. Whatever the function's code, the call is then inside its
/// transaction with at least that write done. Dispose it to let go of the lock and remove the trigger.
/// </summary>
internal sealed class MidCallPause : IAsyncDisposable
{
    private const long LockKey = 4_242_001;
    private readonly NpgsqlConnection _holder;
    private readonly string _table;

    private MidCallPause(NpgsqlConnection holder, string table)
    {
        _holder = holder;
        _table = table;
    }

    /// <summary>From now on, a write (INSERT or UPDATE) to <paramref name="table"/> waits until the pause is disposed.</summary>
    public static async Task<MidCallPause> InstallAsync(MarketplaceDatabase database, string table, CancellationToken cancellationToken)
    {
        // The trigger is test DDL, which the console's runtime login may not create: installed as the superuser.
        var holder = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database.SuperuserConnectionString) { Pooling = false }.ConnectionString);
        await holder.OpenAsync(cancellationToken);
        await holder.ExecuteAsync(new CommandDefinition($"""
            SELECT pg_advisory_lock({LockKey});
            CREATE OR REPLACE FUNCTION public.test_pause() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                PERFORM pg_advisory_xact_lock_shared({LockKey});
                RETURN NULL;
            END
            $fn$;
            CREATE TRIGGER test_pause AFTER INSERT OR UPDATE ON public.{table} FOR EACH ROW EXECUTE FUNCTION public.test_pause();
            """, cancellationToken: cancellationToken));
        return new MidCallPause(holder, table);
    }

    /// <summary>Waits (10 s at most) until a call is stopped at the pause, then terminates its backend.</summary>
    public async Task KillPausedCallAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var pid = await _holder.ExecuteScalarAsync<int?>(new CommandDefinition($"""
                SELECT l.pid FROM pg_locks AS l
                WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objid = {LockKey}
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                LIMIT 1
                """, cancellationToken: cancellationToken));
            if (pid is int paused)
            {
                Assert.True(await _holder.ExecuteScalarAsync<bool>(new CommandDefinition(
                    "SELECT pg_terminate_backend(@Pid, 10000)", new { Pid = paused }, cancellationToken: cancellationToken)), "The paused backend did not end.");
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"No call reached its first write to {_table} within 10 s.");
            await Task.Delay(20, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _holder.ExecuteAsync($"""
            SELECT pg_advisory_unlock({LockKey});
            DROP TRIGGER IF EXISTS test_pause ON public.{_table};
            """);
        await _holder.DisposeAsync();
    }
}
