using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace OpsConsole.Core.Database;

/// <summary>
/// One per console instance and channel: holds a connection that LISTENs on <paramref name="channel"/> and hands every
/// notification to <see cref="OnNotification"/>. When the connection breaks it reconnects with growing delays and
/// then calls <see cref="OnReconnected"/>, since notifications sent meanwhile are lost (subscribers resync).
/// </summary>
/// <param name="dataSource">Where to listen.</param>
/// <param name="channel">The channel (an identifier, not quoted).</param>
/// <param name="maxReconnectDelay">Longest wait between attempts to reconnect (read at each attempt).</param>
/// <param name="logger">Where breaks and reconnects are logged.</param>
public abstract class ChannelListener(NpgsqlDataSource dataSource, string channel, Func<TimeSpan> maxReconnectDelay, ILogger logger)
    : BackgroundService
{
    private static readonly TimeSpan IdleCheck = TimeSpan.FromSeconds(30);
    private volatile TaskCompletionSource<int> _listening = NewSignal();

    /// <summary>Completes with the backend process id once the listener is listening (again, after a reconnect).</summary>
    public Task<int> Listening => _listening.Task;

    /// <summary>A notification's payload arrived.</summary>
    protected abstract void OnNotification(string payload);

    /// <summary>The connection came back after a break: changes may have been missed.</summary>
    protected abstract void OnReconnected();

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        var connectedBefore = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) => OnNotification(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                delay = TimeSpan.FromMilliseconds(100);
                if (connectedBefore)
                {
                    logger.LogInformation("Listener on {Channel} reconnected; viewers resync.", channel);
                    OnReconnected();
                }

                connectedBefore = true;
                _listening.TrySetResult(connection.ProcessID);
                while (!stoppingToken.IsCancellationRequested)
                {
                    // A quiet connection is pinged now and then, so that a dead one is noticed.
                    if (!await connection.WaitAsync(IdleCheck, stoppingToken))
                    {
                        await using var ping = new NpgsqlCommand("SELECT 1", connection);
                        await ping.ExecuteScalarAsync(stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            // Any failure: an exception escaping a BackgroundService stops the whole console, and losing
            // live updates must not do that.
            catch (Exception e)
            {
                if (_listening.Task.IsCompleted)
                {
                    _listening = NewSignal();
                }

                logger.LogWarning(e, "Listener on {Channel} lost its connection; reconnecting in {Delay} ms.", channel, delay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, maxReconnectDelay().Ticks));
            }
        }
    }

    private static TaskCompletionSource<int> NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
