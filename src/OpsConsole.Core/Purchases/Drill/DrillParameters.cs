using OpsConsole.Core.Actions;

namespace OpsConsole.Core.Purchases.Drill;

/// <summary>The shape of one drill run.</summary>
/// <param name="Buyers">Credit buyers rushing each round's leads at once (a card buyer comes on top).</param>
/// <param name="Leads">Leads listed per round; every round gets fresh ones.</param>
/// <param name="Rounds">How many rushes, one after the other.</param>
/// <param name="Retries">Extra completion calls by every other buyer whose purchase completed (client retries).</param>
/// <param name="Price">The <c>marketplace_price</c> of every drill lead.</param>
public sealed record DrillParameters(int Buyers = 20, int Leads = 10, int Rounds = 5, int Retries = 2, decimal Price = 1.00m)
{
    /// <summary>Why these parameters cannot run, or null when they can.</summary>
    public Refusal? Check() =>
        Buyers is < 2 or > 200 ? Refusal.Invalid($"Buyers must be between 2 and 200 (was {Buyers}): a race needs two.")
        : Leads is < 1 or > 100 ? Refusal.Invalid($"Leads must be between 1 and 100 (was {Leads}); the app buys at most 100 at once.")
        : Rounds is < 1 or > 50 ? Refusal.Invalid($"Rounds must be between 1 and 50 (was {Rounds}).")
        : Retries is < 0 or > 5 ? Refusal.Invalid($"Retries must be between 0 and 5 (was {Retries}).")
        : Price is < 0.01m or > 1000m || decimal.Round(Price, 4) != Price
            ? Refusal.Invalid($"Price must be between 0.01 and 1000 with at most 4 decimals, as marketplace_price numeric(10,4) holds it (was {Price}).")
        : null;
}

/// <summary>Where a running drill is, for a progress bar.</summary>
/// <param name="Round">The round under way, from 1; 0 while the drill sets up, <c>Rounds + 1</c> while it measures and cleans up.</param>
/// <param name="Rounds">How many rounds the drill runs.</param>
/// <param name="Step">What it is doing, in a few words.</param>
public sealed record DrillProgress(int Round, int Rounds, string Step);
