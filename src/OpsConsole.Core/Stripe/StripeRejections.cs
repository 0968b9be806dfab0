using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace OpsConsole.Core.Stripe;

/// <summary>Why the receiver refused a request; the word stored in <c>ops.stripe_rejections.reason</c>.</summary>
public enum RejectionReason
{
    /// <summary>No <c>Stripe-Signature</c> header.</summary>
    Missing,

    /// <summary>The signature matches no configured secret (or the header was unreadable).</summary>
    Invalid,

    /// <summary>Signed with a configured secret, longer ago than the tolerance.</summary>
    Stale,

    /// <summary>Signed, but not an event the console can read.</summary>
    Malformed,

    /// <summary>Refused unread beyond the client's allowance of refusals per minute.</summary>
    Throttled,
}

/// <summary>Who sent a webhook request, as the receiver counts it.</summary>
/// <param name="Address">The client's address after a known proxy's forwarded headers (an IPv6 client by its /64).</param>
/// <param name="Throttled">The client has used up its refusals for now: a request that fails its signature is answered 429.</param>
public sealed record WebhookClient(string Address, bool Throttled = false)
{
    /// <summary>A caller inside the process (tests, tools): no address, never throttled.</summary>
    public static WebhookClient Local { get; } = new("local");
}

/// <summary>Refusals of the last hour, for the /stripe page.</summary>
/// <param name="Total">All refused requests.</param>
/// <param name="ByReason">Per reason.</param>
/// <param name="TopClients">The clients refused most, most first (at most five).</param>
public sealed record RejectionSummary(long Total, IReadOnlyDictionary<RejectionReason, long> ByReason, IReadOnlyList<(string Client, long Count)> TopClients);

/// <summary>
/// The aggregated record of refused webhook requests: counted in memory per client, minute and reason, and written as
/// one upsert per <see cref="StripeOptions.RejectionFlushInterval"/> into <c>ops.stripe_rejections</c>, so a flood of
/// junk costs no database write per request and never a delivery row. Past
/// <see cref="StripeOptions.RejectionClientsPerMinute"/> distinct clients in a minute the rest count as
/// <see cref="OtherClients"/>; minutes older than <see cref="StripeOptions.RejectionRetention"/> are deleted.
/// </summary>
public sealed class StripeRejections(NpgsqlDataSource dataSource, IOptionsMonitor<StripeOptions> options, TimeProvider time, ILogger<StripeRejections> logger)
    : BackgroundService
{
    /// <summary>The client name of everyone past the per-minute cap of clients.</summary>
    public const string OtherClients = "other";

    private static readonly TimeSpan PruneEvery = TimeSpan.FromHours(1);
    private readonly Lock _lock = new();
    private readonly HashSet<string> _clientsThisMinute = new(StringComparer.Ordinal);
    private Dictionary<(string Client, DateTimeOffset Minute, RejectionReason Reason), long> _pending = [];
    private DateTimeOffset _clientsMinute;
    private long _lastPrune = long.MinValue;

    /// <summary>Counts one refused request of <paramref name="client"/>; no I/O.</summary>
    public void Count(string client, RejectionReason reason)
    {
        var now = time.GetUtcNow();
        var minute = new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
        lock (_lock)
        {
            if (minute != _clientsMinute)
            {
                _clientsMinute = minute;
                _clientsThisMinute.Clear();
            }

            if (!_clientsThisMinute.Contains(client))
            {
                if (_clientsThisMinute.Count >= options.CurrentValue.RejectionClientsPerMinute)
                {
                    client = OtherClients;
                }

                _clientsThisMinute.Add(client);
            }

            var key = (client, minute, reason);
            _pending[key] = _pending.GetValueOrDefault(key) + 1;
        }
    }

    /// <summary>Writes the counts gathered since the last flush (one statement); on failure they are kept for the next.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        const string sql = """
            INSERT INTO ops.stripe_rejections AS r (client, minute, reason, count)
            SELECT * FROM unnest(@Clients::text[], @Minutes::timestamptz[], @Reasons::text[], @Counts::bigint[])
            ON CONFLICT (client, minute, reason) DO UPDATE SET count = r.count + EXCLUDED.count
            """;
        Dictionary<(string Client, DateTimeOffset Minute, RejectionReason Reason), long> batch;
        lock (_lock)
        {
            if (_pending.Count == 0)
            {
                return;
            }

            batch = _pending;
            _pending = [];
        }

        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(sql, new
            {
                Clients = batch.Keys.Select(k => k.Client).ToArray(),
                Minutes = batch.Keys.Select(k => k.Minute).ToArray(),
                Reasons = batch.Keys.Select(k => k.Reason.ToSql()).ToArray(),
                Counts = batch.Values.ToArray(),
            }, cancellationToken: cancellationToken));
        }
        catch
        {
            var keepFrom = time.GetUtcNow() - options.CurrentValue.RejectionRetention;
            lock (_lock)
            {
                foreach (var (key, count) in batch.Where(b => b.Key.Minute >= keepFrom))
                {
                    _pending[key] = _pending.GetValueOrDefault(key) + count;
                }
            }

            throw;
        }
    }

    /// <summary>Deletes the minutes older than the retention; returns how many rows.</summary>
    public async Task<int> PruneAsync(CancellationToken cancellationToken)
    {
        const string sql = "DELETE FROM ops.stripe_rejections WHERE minute < @Cutoff";
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            sql, new { Cutoff = time.GetUtcNow() - options.CurrentValue.RejectionRetention }, cancellationToken: cancellationToken));
    }

    /// <summary>Refusals of the last hour (this instance's unflushed counts written first).</summary>
    public async Task<RejectionSummary> LastHourAsync(CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT reason AS Reason, sum(count)::bigint AS Count FROM ops.stripe_rejections
            WHERE minute > @Since GROUP BY reason;
            SELECT client AS Client, sum(count)::bigint AS Count FROM ops.stripe_rejections
            WHERE minute > @Since GROUP BY client ORDER BY 2 DESC, 1 LIMIT 5;
            """;
        await FlushAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var results = await connection.QueryMultipleAsync(new CommandDefinition(
            sql, new { Since = time.GetUtcNow() - TimeSpan.FromHours(1) }, cancellationToken: cancellationToken));
        var byReason = (await results.ReadAsync<(string Reason, long Count)>()).ToDictionary(r => DeliveryWords.ParseReason(r.Reason), r => r.Count);
        var top = (await results.ReadAsync<(string Client, long Count)>()).ToList();
        return new RejectionSummary(byReason.Values.Sum(), byReason, top);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(options.CurrentValue.RejectionFlushInterval, time, stoppingToken);
            try
            {
                await FlushAsync(stoppingToken);
                if (_lastPrune == long.MinValue || time.GetElapsedTime(_lastPrune) >= PruneEvery)
                {
                    _lastPrune = time.GetTimestamp();
                    await PruneAsync(stoppingToken);
                }
            }
            catch (Exception error) when (!stoppingToken.IsCancellationRequested && error is not OperationCanceledException)
            {
                // A background loop must survive anything: the counts stay in memory for the next flush.
                logger.LogWarning("Writing the Stripe webhook rejection counts failed: {Error}", error.Message);
            }
        }
    }

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            logger.LogWarning("Writing the Stripe webhook rejection counts at shutdown failed: {Error}", error.Message);
        }
    }
}
