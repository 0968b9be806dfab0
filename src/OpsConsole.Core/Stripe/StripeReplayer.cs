using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Actions;
using Stripe;

namespace OpsConsole.Core.Stripe;

/// <summary>One replay of missed events.</summary>
/// <param name="StartedAt">When it began.</param>
/// <param name="FinishedAt">When it ended.</param>
/// <param name="Trigger"><c>schedule</c> or <c>manual</c>.</param>
/// <param name="Actor">Who asked, for a manual one.</param>
/// <param name="Listed">Payment events the Stripe API listed in the look-back.</param>
/// <param name="Applied">Of those, the ones the console had never seen, applied now.</param>
/// <param name="Error">Stripe's or the network's words when the listing failed.</param>
public sealed record ReplayRun(DateTimeOffset StartedAt, DateTimeOffset FinishedAt, string Trigger, string? Actor, int Listed, int Applied, string? Error);

/// <summary>
/// Lists recent payment events from the Stripe API (Stripe.net's <see cref="EventService"/>) and applies, through the
/// receiver's own path, those the console never received. One replay at a time across instances: the work is leased
/// (<c>ops.stripe_replay_lease</c>, claimed and renewed by single short statements), so no transaction stays open
/// while Stripe is paged over HTTP; each run is recorded in <c>ops.stripe_replays</c>. Runs every
/// <see cref="StripeOptions.ReplayInterval"/> and on demand.
/// </summary>
public sealed class StripeReplayer(
    StripeApi api,
    StripeEventApplier applier,
    StripeDeliveryLog log,
    NpgsqlDataSource dataSource,
    IOptionsMonitor<StripeOptions> options,
    TimeProvider time,
    ILogger<StripeReplayer> logger) : BackgroundService
{
    // Long enough for any page of Stripe's API; renewed at each page, so only a dead instance's lease runs out.
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    private const string ClaimSql = """
        UPDATE ops.stripe_replay_lease SET holder = @Holder, leased_until = now() + @Lease
        WHERE id = 1 AND (holder IS NULL OR leased_until < now())
        """;

    private const string RenewSql = """
        UPDATE ops.stripe_replay_lease SET leased_until = now() + @Lease WHERE id = 1 AND holder = @Holder
        """;

    private const string ReleaseSql = """
        UPDATE ops.stripe_replay_lease SET holder = NULL, leased_until = NULL WHERE id = 1 AND holder = @Holder
        """;

    /// <summary>
    /// Replays now, for <paramref name="actor"/> (support or admin). Refused without an API key or while another
    /// replay runs; a Stripe error is part of the recorded run, worded as Stripe worded it.
    /// </summary>
    public async Task<OpsResult<ReplayRun>> ReplayNowAsync(OpsActor actor, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.ManagePayments) is { } refusal)
        {
            return refusal;
        }

        if (!api.Enabled)
        {
            return Refusal.Rule("Replay needs the Stripe API: set Stripe:ApiKey.");
        }

        var run = await ReplayAsync("manual", actor.AuditName, cancellationToken);
        return run is null ? Refusal.Conflict("A replay is running already (on this or another console instance); try again when it is done.") : run;
    }

    /// <summary>The latest replay, or null before the first.</summary>
    public async Task<ReplayRun?> LatestAsync(CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT started_at AS StartedAt, finished_at AS FinishedAt, trigger AS Trigger, actor AS Actor, listed AS Listed,
                   applied AS Applied, error AS Error
            FROM ops.stripe_replays ORDER BY id DESC LIMIT 1
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<RunRow>(new CommandDefinition(sql, cancellationToken: cancellationToken));
        return row?.ToRun();
    }

    /// <summary>One replay; null when another is running. Database failures propagate.</summary>
    internal async Task<ReplayRun?> ReplayAsync(string trigger, string? actor, CancellationToken cancellationToken)
    {
        var events = api.Events() ?? throw new InvalidOperationException("Stripe:ApiKey is not set.");
        var settings = options.CurrentValue;
        var holder = Guid.NewGuid();
        if (await LeaseAsync(ClaimSql, holder, cancellationToken) == 0)
        {
            return null;
        }

        try
        {
            var startedAt = time.GetUtcNow();
            var listed = new List<Event>();
            string? error = null;
            try
            {
                var query = new EventListOptions
                {
                    Types = [.. StripeEventApplier.PaymentTypes],
                    Created = new DateRangeOptions { GreaterThanOrEqual = (startedAt - settings.ReplayLookback).UtcDateTime },
                    Limit = PageSize,
                };
                // Outside any transaction: Stripe's pages arrive over HTTP at Stripe's pace.
                await foreach (var stripeEvent in events.ListAutoPagingAsync(query, cancellationToken: cancellationToken))
                {
                    listed.Add(stripeEvent);
                    if (listed.Count % PageSize == 0 && await LeaseAsync(RenewSql, holder, cancellationToken) == 0)
                    {
                        throw new InvalidOperationException("The replay lost its lease (it outran the lease while paging).");
                    }
                }
            }
            catch (Exception failure) when (failure is StripeException or HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                error = failure is StripeException { StripeError.Message: { Length: > 0 } message } ? message : failure.Message;
                logger.LogWarning("Replay of missed Stripe events could not list events: {Error}", error);
            }

            await LeaseAsync(RenewSql, holder, cancellationToken);
            var applied = 0;
            var unseen = await log.UnseenAsync(listed.Select(e => e.Id).ToList(), cancellationToken);
            // Oldest first, as Stripe would have delivered them; each in the applier's own short transaction.
            foreach (var stripeEvent in listed.Where(e => unseen.Contains(e.Id)).OrderBy(e => e.Created).ThenBy(e => e.Id, StringComparer.Ordinal))
            {
                await applier.ApplyAsync(stripeEvent, DeliverySource.Replay, SignatureVerdict.Api, time.GetTimestamp(), cancellationToken);
                applied++;
            }

            var run = new ReplayRun(startedAt, time.GetUtcNow(), trigger, actor, listed.Count, applied, error);
            await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
            {
                await connection.ExecuteAsync(new CommandDefinition("""
                    INSERT INTO ops.stripe_replays (started_at, finished_at, trigger, actor, listed, applied, error)
                    VALUES (@StartedAt, @FinishedAt, @Trigger, @Actor, @Listed, @Applied, @Error)
                    """, run, cancellationToken: cancellationToken));
            }

            if (applied > 0)
            {
                logger.LogInformation("Replay applied {Applied} missed Stripe events of {Listed} listed", applied, listed.Count);
            }

            return run;
        }
        finally
        {
            // Not the caller's token: a cancelled replay still gives its lease back (or it runs out by itself).
            await LeaseAsync(ReleaseSql, holder, CancellationToken.None);
        }
    }

    private const int PageSize = 100;

    // One autocommitted statement on the lease row: rows changed (0 when not ours or held by another).
    private async Task<int> LeaseAsync(string sql, Guid holder, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(sql, new { Holder = holder, Lease }, cancellationToken: cancellationToken));
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(options.CurrentValue.ReplayInterval, time, stoppingToken);
            if (!api.Enabled)
            {
                continue;
            }

            try
            {
                await ReplayAsync("schedule", null, stoppingToken);
            }
            catch (Exception error) when (!stoppingToken.IsCancellationRequested && error is not OperationCanceledException)
            {
                // A background loop must survive anything: an escaping exception would stop the whole console.
                logger.LogWarning(error, "Scheduled replay of missed Stripe events failed");
            }
        }
    }

    private sealed class RunRow
    {
        public DateTime StartedAt { get; init; }

        public DateTime FinishedAt { get; init; }

        public string Trigger { get; init; } = "";

        public string? Actor { get; init; }

        public int Listed { get; init; }

        public int Applied { get; init; }

        public string? Error { get; init; }

        public ReplayRun ToRun() => new(Utc(StartedAt), Utc(FinishedAt), Trigger, Actor, Listed, Applied, Error);

        private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
    }
}
