using Npgsql;

namespace OpsConsole.Testing;

/// <summary>
/// Real sessions holding and awaiting real locks, for the lock view's tests: each session is its own unpooled
/// connection with an application name of the test's. Disposing terminates every session (so waits held open, even
/// deadlocks, end at once) and closes the connections.
/// </summary>
public sealed class LockScene(string connectionString) : IAsyncDisposable
{
    private readonly List<LockSceneSession> _sessions = [];

    /// <summary>Opens a session named <paramref name="application"/>, optionally as another database user.</summary>
    public async Task<LockSceneSession> OpenAsync(string application, string? user = null, string? database = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = application };
        if (user is not null)
        {
            builder.Username = user;
        }

        if (database is not null)
        {
            builder.Database = database;
        }

        var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_backend_pid(), backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var session = new LockSceneSession(connection, reader.GetInt32(0), new DateTimeOffset(reader.GetDateTime(1)));
        _sessions.Add(session);
        return session;
    }

    /// <summary>Waits (10 s at most) until <paramref name="session"/> waits for a lock.</summary>
    public async Task WaitUntilWaitingAsync(LockSceneSession session)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            await using var command = new NpgsqlCommand("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = @Pid", connection);
            command.Parameters.AddWithValue("Pid", session.Pid);
            if (await command.ExecuteScalarAsync() is true)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Session {session.Pid} did not start waiting for a lock within 10 s.");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>True while the session's backend exists.</summary>
    public async Task<bool> IsAliveAsync(LockSceneSession session)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE pid = @Pid", connection);
        command.Parameters.AddWithValue("Pid", session.Pid);
        return (long)(await command.ExecuteScalarAsync())! == 1;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_sessions.Count > 0)
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY (@Pids)", connection);
            command.Parameters.AddWithValue("Pids", _sessions.Select(s => s.Pid).ToArray());
            await command.ExecuteNonQueryAsync();
        }

        foreach (var session in _sessions)
        {
            await session.DisposeAsync();
        }
    }
}

/// <summary>One session of a <see cref="LockScene"/>.</summary>
public sealed class LockSceneSession(NpgsqlConnection connection, int pid, DateTimeOffset backendStart) : IAsyncDisposable
{
    private readonly List<Task> _running = [];

    /// <summary>Its backend's pid.</summary>
    public int Pid { get; } = pid;

    /// <summary>Its backend's start.</summary>
    public DateTimeOffset BackendStart { get; } = backendStart;

    /// <summary>Runs <paramref name="sql"/> and waits for it.</summary>
    public async Task RunAsync(string sql, object? parameters = null)
    {
        await using var command = Command(sql, parameters);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The statement last started by <see cref="Start"/>: it ends when that statement does.</summary>
    public Task Pending => _running.Count > 0 ? _running[^1] : Task.CompletedTask;

    /// <summary>Starts <paramref name="sql"/> without waiting (a statement that will wait for a lock); see <see cref="Pending"/>.</summary>
    public void Start(string sql, object? parameters = null)
    {
        var task = Task.Run(async () =>
        {
            await using var command = Command(sql, parameters);
            await command.ExecuteNonQueryAsync();
        });
        _running.Add(task);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var task in _running)
        {
            try
            {
                await task.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception)
            {
                // Terminated by the scene: the statement's error is expected.
            }
        }

        await connection.DisposeAsync();
    }

    private NpgsqlCommand Command(string sql, object? parameters)
    {
        // No client-side timeout: a wait is held open until the scene ends it.
        var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        if (parameters is not null)
        {
            foreach (var property in parameters.GetType().GetProperties())
            {
                command.Parameters.AddWithValue(property.Name, property.GetValue(parameters) ?? DBNull.Value);
            }
        }

        return command;
    }
}
