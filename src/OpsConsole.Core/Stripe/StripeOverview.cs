using Dapper;
using Npgsql;

namespace OpsConsole.Core.Stripe;

/// <summary>A card purchase waiting for its payment, or one whose reservation ran out.</summary>
/// <param name="PurchaseId">The purchase.</param>
/// <param name="BuyerName">The buyer's workspace name.</param>
/// <param name="TotalPrice">Its price.</param>
/// <param name="LeadCount">Leads it holds (or held).</param>
/// <param name="CreatedAt">When the checkout reserved them.</param>
/// <param name="ReservedUntil">When the reservation ends (or ended).</param>
/// <param name="ExpiredAt">When it was expired (expired ones only).</param>
public sealed record CardPurchase(Guid PurchaseId, string? BuyerName, decimal TotalPrice, int LeadCount, DateTimeOffset CreatedAt, DateTimeOffset? ReservedUntil, DateTimeOffset? ExpiredAt);

/// <summary>Deliveries of the last hour by outcome, and how many events were delivered more than once.</summary>
/// <param name="ByOutcome">Deliveries per outcome.</param>
/// <param name="Total">All deliveries.</param>
public sealed record DeliveryCounts(IReadOnlyDictionary<DeliveryOutcome, long> ByOutcome, long Total);

/// <summary>What the /stripe page shows besides the filtered delivery list, read in one go.</summary>
/// <param name="TakenAt">When it was read.</param>
/// <param name="ReceiverEnabled">A webhook secret is configured.</param>
/// <param name="ApiEnabled">An API key is configured (replay and refunds).</param>
/// <param name="Pending">Card purchases waiting for their payment, soonest expiry first.</param>
/// <param name="Expired">Card purchases whose reservation ran out, newest first.</param>
/// <param name="RefundQueue">Purchases waiting for a refund, then refunded ones.</param>
/// <param name="LastHour">Deliveries of the last hour by outcome.</param>
/// <param name="Recent">The latest deliveries, unfiltered.</param>
/// <param name="EventTypes">Event types received in the last week.</param>
/// <param name="LastReplay">The latest replay.</param>
/// <param name="LastSweep">The latest expiry sweep.</param>
/// <param name="ExpiredLastHour">Purchases expired by sweeps in the last hour.</param>
/// <param name="Rejections">Webhook requests refused in the last hour (counted, never logged as deliveries).</param>
public sealed record StripeSnapshot(
    DateTimeOffset TakenAt,
    bool ReceiverEnabled,
    bool ApiEnabled,
    IReadOnlyList<CardPurchase> Pending,
    IReadOnlyList<CardPurchase> Expired,
    IReadOnlyList<RefundQueueEntry> RefundQueue,
    DeliveryCounts LastHour,
    IReadOnlyList<DeliveryRow> Recent,
    IReadOnlyList<string> EventTypes,
    ReplayRun? LastReplay,
    ExpirySweep? LastSweep,
    int ExpiredLastHour,
    RejectionSummary Rejections);

/// <summary>
/// The /stripe page's shared read: one snapshot per <see cref="MaxAge"/> however many pages ask (concurrent askers
/// wait for the same read), so open pages do not multiply the queries.
/// </summary>
public sealed class StripeOverview(
    NpgsqlDataSource dataSource,
    StripeRefunds refunds,
    StripeDeliveryLog deliveries,
    StripeRejections rejections,
    StripeReplayer replayer,
    ReservationExpirySweeper sweeper,
    StripeWebhookReceiver receiver,
    StripeApi api,
    TimeProvider time)
{
    private const int ListLimit = 50;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private StripeSnapshot? _latest;

    /// <summary>How old a shared snapshot may be before the next asker reads a new one.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The latest snapshot, read anew when older than <see cref="MaxAge"/> or when <paramref name="fresh"/>.</summary>
    public async Task<StripeSnapshot> GetAsync(bool fresh, CancellationToken cancellationToken)
    {
        if (!fresh && _latest is { } cached && time.GetUtcNow() - cached.TakenAt < MaxAge)
        {
            return cached;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!fresh && _latest is { } again && time.GetUtcNow() - again.TakenAt < MaxAge)
            {
                return again;
            }

            _latest = await ReadAsync(cancellationToken);
            return _latest;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<StripeSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT p.id AS PurchaseId, w.name AS BuyerName, p.total_price AS TotalPrice,
                   (SELECT count(*)::int FROM marketplace_purchase_items AS i WHERE i.purchase_id = p.id) AS LeadCount,
                   p.created_at AS CreatedAt, p.reserved_until AS ReservedUntil, NULL::timestamptz AS ExpiredAt
            FROM marketplace_purchases AS p LEFT JOIN workspaces AS w ON w.id = p.buyer_workspace_id
            WHERE p.status = 'pending' AND p.payment_method = 'stripe'
            ORDER BY p.reserved_until
            LIMIT @Limit;

            SELECT p.id AS PurchaseId, w.name AS BuyerName, p.total_price AS TotalPrice,
                   (SELECT count(*)::int FROM marketplace_purchase_items AS i WHERE i.purchase_id = p.id) AS LeadCount,
                   p.created_at AS CreatedAt, p.reserved_until AS ReservedUntil, p.updated_at AS ExpiredAt
            FROM marketplace_purchases AS p LEFT JOIN workspaces AS w ON w.id = p.buyer_workspace_id
            WHERE p.status = 'expired' AND p.payment_method = 'stripe'
            ORDER BY p.created_at DESC
            LIMIT @Limit;

            SELECT outcome AS Outcome, count(*) AS Count
            FROM ops.stripe_deliveries WHERE received_at > now() - interval '1 hour'
            GROUP BY outcome;
            """;
        List<CardPurchase> pending, expired;
        Dictionary<DeliveryOutcome, long> counts;
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            await using var results = await connection.QueryMultipleAsync(new CommandDefinition(sql, new { Limit = ListLimit }, cancellationToken: cancellationToken));
            pending = (await results.ReadAsync<CardRow>()).Select(r => r.ToPurchase()).ToList();
            expired = (await results.ReadAsync<CardRow>()).Select(r => r.ToPurchase()).ToList();
            counts = (await results.ReadAsync<(string Outcome, long Count)>()).ToDictionary(r => DeliveryWords.ParseOutcome(r.Outcome), r => r.Count);
        }

        var queue = await refunds.QueueAsync(ListLimit, cancellationToken);
        var recent = await deliveries.FindAsync(new DeliveryQuery(Limit: 100), cancellationToken);
        var types = await deliveries.EventTypesAsync(cancellationToken);
        var replay = await replayer.LatestAsync(cancellationToken);
        var (sweep, expiredLastHour) = await sweeper.LatestAsync(cancellationToken);
        var refused = await rejections.LastHourAsync(cancellationToken);
        return new StripeSnapshot(time.GetUtcNow(), receiver.Enabled, api.Enabled, pending, expired, queue,
            new DeliveryCounts(counts, counts.Values.Sum()), recent, types, replay, sweep, expiredLastHour, refused);
    }

    private sealed class CardRow
    {
        public Guid PurchaseId { get; init; }

        public string? BuyerName { get; init; }

        public decimal TotalPrice { get; init; }

        public int LeadCount { get; init; }

        public DateTime CreatedAt { get; init; }

        public DateTime? ReservedUntil { get; init; }

        public DateTime? ExpiredAt { get; init; }

        public CardPurchase ToPurchase() => new(PurchaseId, BuyerName, TotalPrice, LeadCount, Utc(CreatedAt),
            ReservedUntil is { } until ? Utc(until) : null, ExpiredAt is { } at ? Utc(at) : null);

        private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
    }
}
