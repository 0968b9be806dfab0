using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Purchases;

namespace OpsConsole.Core.Demo;

/// <summary>
/// Keeps buying leads through <see cref="IPurchaseService"/> so that every page of the console has live data:
/// several concurrent buyers reach for the same small window of available leads, so conflicts, lock waits
/// and insufficient credits happen as they would in production. Restocks leads when they run low.
/// </summary>
public sealed class DemoTrafficService(
    IPurchaseService purchases,
    DemoMarket market,
    DemoSeeder seeder,
    DemoTrafficStats stats,
    IOptions<DemoOptions> options,
    TimeProvider timeProvider,
    ILogger<DemoTrafficService> logger) : BackgroundService
{
    /// <summary>The actor recorded on the demo's purchases and audit rows.</summary>
    public const string Actor = "demo-traffic";

    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan BackOffAfterError = TimeSpan.FromSeconds(5);

    private IReadOnlyList<DemoLead> _hotLeads = [];
    private volatile IReadOnlyList<Guid> _buyers = [];

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

    private async Task RefreshLoopAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (_buyers.Count == 0)
                {
                    _buyers = await market.GetBuyersAsync(cancellationToken);
                }

                var (leads, available) = await market.GetHotLeadsAsync(settings.HotLeads, cancellationToken);
                Volatile.Write(ref _hotLeads, leads);
                if (available < settings.RestockBelow)
                {
                    var listed = await seeder.ListMoreLeadsAsync(Math.Max(settings.LeadCount / 3, settings.RestockBelow), cancellationToken);
                    logger.LogInformation("Demo traffic listed {Count} more leads ({Available} were left)", listed, available);
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
            var buyers = _buyers;
            var hot = Volatile.Read(ref _hotLeads);
            if (buyers.Count == 0 || hot.Count == 0)
            {
                continue;
            }

            var buyer = buyers[random.Next(buyers.Count)];
            var leads = hot.Where(l => l.SellerId != buyer)
                .OrderBy(_ => random.Next())
                .Take(random.Next(1, 4))
                .Select(l => l.Id)
                .ToList();
            if (leads.Count == 0)
            {
                continue;
            }

            try
            {
                var result = await purchases.PurchaseWithCreditsAsync(buyer, leads, Actor, cancellationToken);
                stats.Record(result.Outcome);
                if (result.Outcome is PurchaseOutcome.Completed or PurchaseOutcome.Conflict)
                {
                    // Sold, or taken by someone else: stop reaching for them before the next refresh.
                    ForgetLeads(leads);
                }
            }
            catch (Exception ex) when (IsDatabaseTrouble(ex) && !cancellationToken.IsCancellationRequested)
            {
                stats.RecordError();
                logger.LogWarning("Demo purchase failed: {Error}", ex.Message);
                await Task.Delay(BackOffAfterError, timeProvider, cancellationToken);
            }
        }
    }

    private void ForgetLeads(IReadOnlyCollection<Guid> leads)
    {
        IReadOnlyList<DemoLead> current, remaining;
        do
        {
            current = _hotLeads;
            remaining = current.Where(l => !leads.Contains(l.Id)).ToList();
        }
        while (Interlocked.CompareExchange(ref _hotLeads, remaining, current) != current);
    }

    private static bool IsDatabaseTrouble(Exception exception) =>
        exception is NpgsqlException or TimeoutException || exception.InnerException is NpgsqlException or TimeoutException;
}
