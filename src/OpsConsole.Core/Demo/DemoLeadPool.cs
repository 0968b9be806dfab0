using Microsoft.Extensions.Options;

namespace OpsConsole.Core.Demo;

/// <summary>
/// Hands out available demo leads so that no two demo checkouts reach for the same one: the calm baseline's credit
/// buyers, its card buyers and the scenarios all take from here, each lead once. A lead handed out is not handed out
/// again for <see cref="HandedOutFor"/> (by then it is sold, reserved, or free again after a failed purchase).
/// <see cref="RefillAsync"/> reads <see cref="DemoOptions.LeadPool"/> available leads and lists more when they run low.
/// </summary>
public sealed class DemoLeadPool(DemoMarket market, DemoSeeder seeder, IOptions<DemoOptions> options, TimeProvider time)
{
    /// <summary>How long a handed-out lead is kept out of the pool.</summary>
    public static readonly TimeSpan HandedOutFor = TimeSpan.FromMinutes(2);

    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, long> _handedOut = [];
    private List<DemoLead> _leads = [];

    /// <summary>Leads in the pool now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _leads.Count;
            }
        }
    }

    /// <summary>Takes up to <paramref name="count"/> leads not sold by <paramref name="buyer"/>; none is handed out twice.</summary>
    public IReadOnlyList<Guid> Take(int count, Guid buyer) => [.. TakeLeads(count, buyer).Select(l => l.Id)];

    /// <summary>As <see cref="Take"/>, with the leads' sellers.</summary>
    public IReadOnlyList<DemoLead> TakeLeads(int count, Guid buyer)
    {
        var taken = new List<DemoLead>(count);
        lock (_gate)
        {
            var now = time.GetTimestamp();
            for (var i = _leads.Count - 1; i >= 0 && taken.Count < count; i--)
            {
                if (_leads[i].SellerId == buyer)
                {
                    continue;
                }

                taken.Add(_leads[i]);
                _handedOut[_leads[i].Id] = now;
                _leads.RemoveAt(i);
            }
        }

        return taken;
    }

    /// <summary>
    /// Reads the available leads anew (at most <see cref="DemoOptions.LeadPool"/>), without those handed out lately, in
    /// random order; lists more when fewer than <see cref="DemoOptions.RestockBelow"/> are available. Returns how many
    /// were listed.
    /// </summary>
    public async Task<int> RefillAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        // Handed-out leads are mostly sold by now; the few still available (in flight, or back after a failure) are
        // read and skipped, so a little more than the pool is read.
        var (leads, available) = await market.GetHotLeadsAsync(settings.LeadPool + Math.Min(HandedOutCount(), settings.LeadPool), cancellationToken);
        lock (_gate)
        {
            foreach (var stale in _handedOut.Where(h => time.GetElapsedTime(h.Value) > HandedOutFor).Select(h => h.Key).ToList())
            {
                _handedOut.Remove(stale);
            }

            _leads = [.. leads.Where(l => !_handedOut.ContainsKey(l.Id)).Take(settings.LeadPool).OrderBy(_ => Random.Shared.Next())];
        }

        return available < settings.RestockBelow
            ? await seeder.ListMoreLeadsAsync(Math.Max(settings.LeadCount / 3, settings.RestockBelow), cancellationToken)
            : 0;
    }

    private int HandedOutCount()
    {
        lock (_gate)
        {
            return _handedOut.Count;
        }
    }
}
