using Dapper;
using Npgsql;

namespace OpsConsole.Core.Stripe;

/// <summary>A delivery as the page lists it, with how often Stripe has delivered that event in all.</summary>
/// <param name="Id">Row id.</param>
/// <param name="ReceivedAt">When it arrived.</param>
/// <param name="Source">Webhook or replay.</param>
/// <param name="EventId">The event, when the signature was accepted.</param>
/// <param name="EventType">Its type.</param>
/// <param name="ApiVersion">Its API version.</param>
/// <param name="Signature">The verdict word.</param>
/// <param name="Outcome">What became of it.</param>
/// <param name="HttpStatus">What was answered.</param>
/// <param name="PurchaseId">The purchase it named.</param>
/// <param name="PaymentIntentId">The payment it named.</param>
/// <param name="DurationMs">Receipt to answer.</param>
/// <param name="Error">Why it was a problem or refused.</param>
/// <param name="EventDeliveries">Deliveries of this event recorded by <c>complete_stripe_lead_purchase</c> (more than 1: duplicates).</param>
public sealed record DeliveryRow(
    long Id,
    DateTimeOffset ReceivedAt,
    string Source,
    string? EventId,
    string? EventType,
    string? ApiVersion,
    string Signature,
    DeliveryOutcome Outcome,
    int HttpStatus,
    Guid? PurchaseId,
    string? PaymentIntentId,
    double DurationMs,
    string? Error,
    int? EventDeliveries);

/// <summary>What the page asks of the delivery log.</summary>
/// <param name="Outcomes">Only these outcomes (none: all).</param>
/// <param name="EventType">Only this event type.</param>
/// <param name="Search">An event id, a purchase id or a payment intent id, exact.</param>
/// <param name="Limit">At most this many, newest first.</param>
public sealed record DeliveryQuery(IReadOnlyCollection<DeliveryOutcome>? Outcomes = null, string? EventType = null, string? Search = null, int Limit = 100);

/// <summary>The delivery log <c>ops.stripe_deliveries</c>: append, read, and delete past the retention.</summary>
public sealed class StripeDeliveryLog(NpgsqlDataSource dataSource)
{
    private const string InsertSql = """
        INSERT INTO ops.stripe_deliveries
            (source, event_id, event_type, api_version, signature, outcome, http_status, purchase_id, payment_intent_id, duration_ms, error)
        VALUES (@Source, @EventId, @EventType, @ApiVersion, @Signature, @Outcome, @HttpStatus, @PurchaseId, @PaymentIntentId, @DurationMs, @Error)
        """;

    /// <summary>
    /// The row of a completion's delivery, for <see cref="Purchases.MarketplaceFunctions.CompleteStripePurchaseAsync(Guid, string, string, string, NpgsqlBatchCommand, CancellationToken)"/>:
    /// its outcome is the function's status word, its duration what passed before the batch plus the batch's own time.
    /// </summary>
    public static NpgsqlBatchCommand CompletionRow(DeliveryRecord record) => new("""
        INSERT INTO ops.stripe_deliveries
            (source, event_id, event_type, api_version, signature, outcome, http_status, purchase_id, payment_intent_id, duration_ms, error)
        VALUES ($1, $2, $3, $4, $5, current_setting('marketplace.stripe_status'), 200, $6, $7,
                $8 + extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000, NULL)
        """)
    {
        Parameters =
        {
            new() { Value = record.Source.ToSql() },
            new() { Value = (object?)record.EventId ?? DBNull.Value },
            new() { Value = (object?)record.EventType ?? DBNull.Value },
            new() { Value = (object?)record.ApiVersion ?? DBNull.Value },
            new() { Value = record.Signature.ToSql() },
            new() { Value = (object?)record.PurchaseId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid },
            new() { Value = (object?)record.PaymentIntentId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text },
            new() { Value = record.DurationMs },
        },
    };

    /// <summary>Appends <paramref name="record"/> on its own.</summary>
    public async Task AppendAsync(DeliveryRecord record, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(InsertSql, Parameters(record), cancellationToken: cancellationToken));
    }

    /// <summary>Deliveries matching <paramref name="query"/>, newest first.</summary>
    public async Task<IReadOnlyList<DeliveryRow>> FindAsync(DeliveryQuery query, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT d.id, d.received_at, d.source, d.event_id, d.event_type, d.api_version, d.signature, d.outcome,
                   d.http_status, d.purchase_id, d.payment_intent_id, d.duration_ms::float8 AS duration_ms, d.error,
                   e.deliveries AS event_deliveries
            FROM ops.stripe_deliveries AS d
            LEFT JOIN stripe_webhook_events AS e ON e.event_id = d.event_id
            WHERE (@Outcomes::text[] IS NULL OR d.outcome = ANY (@Outcomes::text[]))
              AND (@EventType::text IS NULL OR d.event_type = @EventType)
              AND (@Search::text IS NULL OR d.event_id = @Search OR d.payment_intent_id = @Search
                   OR d.purchase_id = @SearchId)
            ORDER BY d.received_at DESC, d.id DESC
            LIMIT @Limit
            """;
        var search = string.IsNullOrWhiteSpace(query.Search) ? null : query.Search.Trim();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<RawRow>(new CommandDefinition(sql, new
        {
            Outcomes = query.Outcomes is { Count: > 0 } outcomes ? outcomes.Select(o => o.ToSql()).ToArray() : null,
            EventType = string.IsNullOrWhiteSpace(query.EventType) ? null : query.EventType,
            Search = search,
            SearchId = Guid.TryParse(search, out var id) ? id : (Guid?)null,
            Limit = Math.Clamp(query.Limit, 1, 1000),
        }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToRow()).ToList();
    }

    /// <summary>The event types seen so far, for the page's type filter.</summary>
    public async Task<IReadOnlyList<string>> EventTypesAsync(CancellationToken cancellationToken)
    {
        // A loose index scan would be overkill: the set of types is tiny and the partial index on event_id covers no type.
        const string sql = """
            SELECT DISTINCT event_type FROM ops.stripe_deliveries
            WHERE event_type IS NOT NULL AND received_at > now() - interval '7 days'
            ORDER BY 1
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<string>(new CommandDefinition(sql, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>Of <paramref name="eventIds"/>, those the console has never received or applied.</summary>
    public async Task<IReadOnlySet<string>> UnseenAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT u.eid FROM unnest(@Ids::text[]) AS u(eid)
            WHERE NOT EXISTS (SELECT 1 FROM stripe_webhook_events AS e WHERE e.event_id = u.eid)
              AND NOT EXISTS (SELECT 1 FROM ops.stripe_deliveries AS d
                              WHERE d.event_id = u.eid AND d.outcome NOT IN ('unavailable', 'malformed'))
            """;
        if (eventIds.Count == 0)
        {
            return new HashSet<string>();
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<string>(new CommandDefinition(sql, new { Ids = eventIds.ToArray() }, cancellationToken: cancellationToken)))
            .ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Deletes rows received before <paramref name="cutoff"/>, a batch at a time; returns how many.</summary>
    public async Task<int> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        const string sql = """
            DELETE FROM ops.stripe_deliveries
            WHERE id IN (SELECT id FROM ops.stripe_deliveries WHERE received_at < @Cutoff ORDER BY received_at LIMIT 5000)
            """;
        var total = 0;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        int deleted;
        do
        {
            deleted = await connection.ExecuteAsync(new CommandDefinition(sql, new { Cutoff = cutoff }, cancellationToken: cancellationToken));
            total += deleted;
        }
        while (deleted > 0);

        return total;
    }

    private static object Parameters(DeliveryRecord r) => new
    {
        Source = r.Source.ToSql(),
        r.EventId,
        r.EventType,
        r.ApiVersion,
        Signature = r.Signature.ToSql(),
        Outcome = r.Outcome.ToSql(),
        r.HttpStatus,
        r.PurchaseId,
        r.PaymentIntentId,
        DurationMs = Math.Round(r.DurationMs, 3),
        Error = r.Error is { Length: > 2000 } text ? text[..2000] : r.Error,
    };

    private sealed class RawRow
    {
        public long Id { get; init; }

        public DateTime Received_At { get; init; }

        public string Source { get; init; } = "";

        public string? Event_Id { get; init; }

        public string? Event_Type { get; init; }

        public string? Api_Version { get; init; }

        public string Signature { get; init; } = "";

        public string Outcome { get; init; } = "";

        public int Http_Status { get; init; }

        public Guid? Purchase_Id { get; init; }

        public string? Payment_Intent_Id { get; init; }

        public double Duration_Ms { get; init; }

        public string? Error { get; init; }

        public int? Event_Deliveries { get; init; }

        public DeliveryRow ToRow() => new(Id, new DateTimeOffset(DateTime.SpecifyKind(Received_At, DateTimeKind.Utc)), Source, Event_Id, Event_Type,
            Api_Version, Signature, DeliveryWords.ParseOutcome(Outcome), Http_Status, Purchase_Id, Payment_Intent_Id, Duration_Ms, Error, Event_Deliveries);
    }
}
