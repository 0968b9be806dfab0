using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace OpsConsole.Core.Metrics;

/// <summary>
/// Keeps the per-minute rollup the metrics query reads (migration 0026): every <see cref="MetricsOptions.RollupInterval"/>
/// it calls <c>ops.refresh_purchase_metrics()</c> on the primary until it reports caught up. Purchases never write
/// the rollup; several console instances take turns through the function's advisory lock. A failed refresh is
/// logged and retried at the next interval: until then the query reads more minutes from the tables, nothing else.
/// </summary>
public sealed partial class MetricsRollupService(NpgsqlDataSource dataSource, IOptions<MetricsOptions> options, ILogger<MetricsRollupService> logger)
    : BackgroundService
{
    /// <summary>Rolls up every minute old enough, in chunks of a day; false when another session was refreshing.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT ops.refresh_purchase_metrics()", connection) { CommandTimeout = 600 };
        while (true)
        {
            switch (await command.ExecuteScalarAsync(cancellationToken))
            {
                case true:
                    continue;
                case false:
                    return true;
                default:
                    return false;
            }
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RollupInterval);
        do
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception error) when (error is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                LogRefreshFailed(logger, error);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Purchase metrics rollup failed; retrying at the next interval")]
    private static partial void LogRefreshFailed(ILogger logger, Exception error);
}
