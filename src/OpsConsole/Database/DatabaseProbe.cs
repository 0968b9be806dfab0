using Microsoft.Extensions.Options;
using OpsConsole.Core.Database;

namespace OpsConsole.Database;

/// <summary>Configuration section <c>Database:Probe</c>.</summary>
public sealed class DatabaseProbeOptions
{
    public const string Section = "Database:Probe";

    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>Runs a cheap <c>SELECT 1</c> every <see cref="DatabaseProbeOptions.Interval"/> and feeds <see cref="DatabaseStatus"/>.</summary>
public sealed class DatabaseProbe(
    DatabasePing ping,
    DatabaseStatus status,
    IOptions<DatabaseProbeOptions> options,
    ILogger<DatabaseProbe> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // At most one pending wake-up: a burst of reports from many pages means one early probe, not many.
        using var wakeUp = new SemaphoreSlim(0, 1);
        void OnFailureReported()
        {
            try
            {
                wakeUp.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }

        status.FailureReported += OnFailureReported;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await ProbeOnceAsync(stoppingToken);
                using var interval = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                interval.CancelAfter(options.Value.Interval);
                try
                {
                    // Wait for the interval, or less when a page has just reported a failure.
                    await wakeUp.WaitAsync(Timeout.Infinite, interval.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            status.FailureReported -= OnFailureReported;
        }
    }

    internal async Task ProbeOnceAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.Timeout);
        var wasReachable = status.IsReachable;
        try
        {
            await ping.PingAsync(timeout.Token);
            status.ReportReachable();
            if (!wasReachable)
            {
                logger.LogInformation("The database answers again");
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (DatabasePing.IsDatabaseFailure(ex) || ex is OperationCanceledException or System.Net.Sockets.SocketException))
        {
            if (wasReachable)
            {
                logger.LogWarning("The database is unreachable: {Error}", DatabasePing.Describe(ex));
            }

            // Pooled connections to a restarted server are dead; drop them so the next page gets fresh ones.
            ping.ClearPool();
            status.ReportUnreachable(ex is OperationCanceledException
                ? $"No answer within {options.Value.Timeout.TotalSeconds:0.#} s"
                : DatabasePing.Describe(ex));
        }
    }
}
