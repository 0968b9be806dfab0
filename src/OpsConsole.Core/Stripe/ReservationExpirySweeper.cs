using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Database;
using OpsConsole.Core.Purchases;

namespace OpsConsole.Core.Stripe;

/// <summary>One sweep of expired reservations.</summary>
/// <param name="Instance">The console instance that swept.</param>
/// <param name="StartedAt">When it began.</param>
/// <param name="FinishedAt">When it ended.</param>
/// <param name="Expired">Purchases it expired (their leads went back on sale).</param>
public sealed record ExpirySweep(string Instance, DateTimeOffset StartedAt, DateTimeOffset FinishedAt, int Expired);

/// <summary>
/// Calls <c>release_expired_lead_reservations()</c> every <see cref="StripeOptions.ExpirySweepInterval"/>. With several
/// console instances on one database only one sweeps at a time, and at most once per interval: the sweep runs
/// under a transaction-scoped advisory lock, skips when another instance swept within the interval, and records
/// its count in <c>ops.stripe_expiry_sweeps</c> in the same transaction. The same loop applies the delivery
/// log's retention once an hour.
/// </summary>
public sealed class ReservationExpirySweeper(
    OpsTransactions transactions,
    MarketplaceFunctions functions,
    StripeDeliveryLog deliveries,
    NpgsqlDataSource dataSource,
    IOptionsMonitor<StripeOptions> options,
    TimeProvider time,
    ILogger<ReservationExpirySweeper> logger) : BackgroundService
{
    /// <summary>The actor the audit rows of expired purchases name.</summary>
    public const string Actor = "expiry-sweeper";

    internal const long SweepLockKey = 0x4f7053_7472_0002; // "OpsStr" 2: the expiry sweep
    private static readonly TimeSpan RetentionEvery = TimeSpan.FromHours(1);
    private long _lastRetention = long.MinValue;

    /// <summary>How this instance names itself in the sweep records.</summary>
    public string Instance { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>
    /// Sweeps once unless another instance is sweeping or swept within the last interval; returns the sweep, or
    /// null when it was skipped.
    /// </summary>
    public async Task<ExpirySweep?> SweepOnceAsync(CancellationToken cancellationToken)
    {
        var interval = options.CurrentValue.ExpirySweepInterval;
        var result = await transactions.RunAsync<ExpirySweep?>(async tx =>
        {
            if (!await tx.QuerySingleAsync<bool>("SELECT pg_try_advisory_xact_lock(@Key)", new { Key = SweepLockKey }))
            {
                return (ExpirySweep?)null;
            }

            // A tenth of slack, so instances whose timers drift do not skip a whole interval.
            if (await tx.QuerySingleAsync<bool>(
                    "SELECT EXISTS (SELECT 1 FROM ops.stripe_expiry_sweeps WHERE started_at > clock_timestamp() - @Recent)",
                    new { Recent = interval * 0.9 }))
            {
                return (ExpirySweep?)null;
            }

            // The database's clock, which the "swept recently" check above reads too.
            var startedAt = Utc(await tx.QuerySingleAsync<DateTime>("SELECT clock_timestamp()"));
            await tx.ExecuteAsync("SELECT set_config('marketplace.actor', @Actor, true)", new { Actor });
            var expired = await functions.ReleaseExpiredReservationsAsync(tx);
            var sweep = new ExpirySweep(Instance, startedAt, Utc(await tx.QuerySingleAsync<DateTime>("SELECT clock_timestamp()")), expired);
            await tx.ExecuteAsync("""
                INSERT INTO ops.stripe_expiry_sweeps (instance, started_at, finished_at, expired)
                VALUES (@Instance, @StartedAt, @FinishedAt, @Expired)
                """, sweep);
            return sweep;
        }, cancellationToken);
        return result.Value;
    }

    /// <summary>The latest sweep (by any instance), and how many purchases sweeps expired in the last hour.</summary>
    public async Task<(ExpirySweep? Latest, int ExpiredLastHour)> LatestAsync(CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT instance AS Instance, started_at AS StartedAt, finished_at AS FinishedAt, expired AS Expired
            FROM ops.stripe_expiry_sweeps ORDER BY started_at DESC LIMIT 1;
            SELECT coalesce(sum(expired), 0)::int FROM ops.stripe_expiry_sweeps WHERE started_at > now() - interval '1 hour';
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var results = await connection.QueryMultipleAsync(new CommandDefinition(sql, cancellationToken: cancellationToken));
        var latest = await results.ReadSingleOrDefaultAsync<SweepRow>();
        var lastHour = await results.ReadSingleAsync<int>();
        return (latest?.ToSweep(), lastHour);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var sweep = await SweepOnceAsync(stoppingToken);
                if (sweep is { Expired: > 0 })
                {
                    logger.LogInformation("Expiry sweep released {Count} expired reservations", sweep.Expired);
                }

                if (_lastRetention == long.MinValue || time.GetElapsedTime(_lastRetention) >= RetentionEvery)
                {
                    _lastRetention = time.GetTimestamp();
                    var removed = await deliveries.DeleteOlderThanAsync(time.GetUtcNow() - options.CurrentValue.DeliveryRetention, stoppingToken);
                    if (removed > 0)
                    {
                        logger.LogInformation("Removed {Count} Stripe delivery log rows past the retention", removed);
                    }
                }
            }
            catch (Exception error) when (!stoppingToken.IsCancellationRequested && error is not OperationCanceledException)
            {
                // A background loop must survive anything: an escaping exception would stop the whole console.
                logger.LogWarning("Reservation expiry sweep failed: {Error}", error.Message);
            }

            await Task.Delay(options.CurrentValue.ExpirySweepInterval, time, stoppingToken);
        }
    }

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private sealed class SweepRow
    {
        public string Instance { get; init; } = "";

        public DateTime StartedAt { get; init; }

        public DateTime FinishedAt { get; init; }

        public int Expired { get; init; }

        public ExpirySweep ToSweep() => new(Instance, Utc(StartedAt), Utc(FinishedAt), Expired);
    }
}
