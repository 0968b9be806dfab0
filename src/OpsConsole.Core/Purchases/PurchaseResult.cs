namespace OpsConsole.Core.Purchases;

/// <summary>What a purchase call ended with.</summary>
/// <param name="Outcome">The answer.</param>
/// <param name="PurchaseId">The purchase row, when one exists (completed, reserved, failed for insufficient credits, Stripe outcomes).</param>
/// <param name="TotalPrice">The purchase's total, when known.</param>
/// <param name="BuyerBalance">The buyer's credit balance after a credit purchase.</param>
/// <param name="Attempts">Attempts made, 1 plus the retries after lock conflicts.</param>
/// <param name="Duration">From the first attempt to the answer, retries and back-off included.</param>
/// <param name="Detail">The database's explanation of a refusal, for the person or log reading it.</param>
public sealed record PurchaseResult(
    PurchaseOutcome Outcome,
    Guid? PurchaseId,
    decimal? TotalPrice,
    decimal? BuyerBalance,
    int Attempts,
    TimeSpan Duration,
    string? Detail = null);
