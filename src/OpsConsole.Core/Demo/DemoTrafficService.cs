using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Purchases;

namespace OpsConsole.Core.Demo;

/// <summary>
/// The demo's calm baseline: keeps buying leads through <see cref="IPurchaseService"/> so that every page of the console
/// has live data, the way a healthy marketplace looks after the fix. Buyers take distinct leads from
/// <see cref="DemoLeadPool"/> (no two reach for the same lead, so no conflicts) and only buyers with enough credits buy;
/// failures are realistic but rare: one purchase in <see cref="RareFailureEvery"/> is made by the poorest buyer, which
/// may not afford it. Incidents are started on purpose (<see cref="DemoScenarios"/>). Restocks leads when they run low.
/// </summary>
public sealed class DemoTrafficService(
    IPurchaseService purchases,
    DemoMarket market,
    DemoLeadPool pool,
    DemoTrafficStats stats,
    IOptions<DemoOptions> options,
    TimeProvider timeProvider,
    ILogger<DemoTrafficService> logger) : BackgroundService
{
    /// <summary>The actor recorded on the demo's purchases and audit rows.</summary>
    public const string Actor = "demo-traffic";

    /// <summary>A buyer with less than this stops buying (it keeps selling) until its balance is back above it.</summary>
    public const decimal MinBuyerBalance = 500m;

    /// <summary>One credit purchase in this many is made by the poorest buyer: the calm baseline's rare failure.</summary>
    public const int RareFailureEvery = 1000;

    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan BackOffAfterError = TimeSpan.FromSeconds(5);

    private volatile IReadOnlyList<DemoBuyer> _buyers = [];
    private long _attempts;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.Enabled != true)
        {
            return;
        }

        if (settings.PurchasesPerSecond <= 0 || settings.Buyers <= 0)
        {
            logger.LogInformation("Demo traffic is configured off (Demo:PurchasesPerSecond or Demo:Buyers is 0)");
            return;
        }

        stats.IsRunning = true;
        try
        {
            logger.LogInformation("Demo traffic: {Buyers} buyers, {Rate} purchases per second", settings.Buyers, settings.PurchasesPerSecond);
            var pause = TimeSpan.FromSeconds(settings.Buyers / settings.PurchasesPerSecond);
            var loops = Enumerable.Range(0, settings.Buyers)
                .Select(i => BuyLoopAsync(new Random(HashCode.Combine(i, Environment.TickCount)), pause, stoppingToken))
                .Append(RefreshLoopAsync(stoppingToken));
            await Task.WhenAll(loops);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            stats.IsRunning = false;
        }
    }

    /// <summary>
    /// The buyer of the next purchase: a random one of those with at least <see cref="MinBuyerBalance"/>, except one
    /// purchase in <see cref="RareFailureEvery"/>, made by the poorest buyer. Null when nobody may buy.
    /// </summary>
    internal static Guid? ChooseBuyer(IReadOnlyList<DemoBuyer> buyers, long attempt, Random random)
    {
        if (buyers.Count == 0)
        {
            return null;
        }

        if (attempt % RareFailureEvery == RareFailureEvery / 2)
        {
            return buyers.MinBy(b => b.Balance)!.Id;
        }

        var rich = buyers.Where(b => b.Balance >= MinBuyerBalance).ToList();
        return rich.Count == 0 ? null : rich[random.Next(rich.Count)].Id;
    }

    private async Task RefreshLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                _buyers = await market.GetBuyerBalancesAsync(cancellationToken);
                var listed = await pool.RefillAsync(cancellationToken);
                if (listed > 0)
                {
                    logger.LogInformation("Demo traffic listed {Count} more leads", listed);
                }

                await Task.Delay(RefreshEvery, timeProvider, cancellationToken);
            }
            catch (Exception ex) when (IsDatabaseTrouble(ex) && !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("Demo traffic cannot read the marketplace: {Error}", ex.Message);
                await Task.Delay(BackOffAfterError, timeProvider, cancellationToken);
            }
        }
    }

    private async Task BuyLoopAsync(Random random, TimeSpan pause, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            // Jitter of ±50 % keeps the buyers from marching in step.
            await Task.Delay(pause * (0.5 + random.NextDouble()), timeProvider, cancellationToken);
            if (ChooseBuyer(_buyers, Interlocked.Increment(ref _attempts), random) is not { } buyer)
            {
                continue;
            }

            var leads = pool.Take(random.Next(1, 4), buyer);
            if (leads.Count == 0)
            {
                continue;
            }

            try
            {
                var result = await purchases.PurchaseWithCreditsAsync(buyer, leads, Actor, cancellationToken);
                stats.Record(result.Outcome);
            }
            catch (Exception ex) when (IsDatabaseTrouble(ex) && !cancellationToken.IsCancellationRequested)
            {
                stats.RecordError();
                logger.LogWarning("Demo purchase failed: {Error}", ex.Message);
                await Task.Delay(BackOffAfterError, timeProvider, cancellationToken);
            }
        }
    }

    internal static bool IsDatabaseTrouble(Exception exception) =>
        exception is NpgsqlException or TimeoutException || exception.InnerException is NpgsqlException or TimeoutException;
}
