namespace OpsConsole.Core.Purchases.Drill;

/// <summary>A buyer as the app knows it: the workspace and the <c>users</c> row of the signed-in user.</summary>
public sealed record AppBuyer(Guid WorkspaceId, Guid UserId);

/// <summary>How a replayed purchase request ended, as route.ts would answer it.</summary>
public enum ReplayStage
{
    /// <summary>409: validate raised 55P03 or "no longer available".</summary>
    Conflict,

    /// <summary>400: validate returned fewer leads than asked, or the app's own balance check refused.</summary>
    Refused,

    /// <summary>500: an insert or an RPC failed otherwise.</summary>
    Failed,

    /// <summary>400: the completion function answered <c>success = false</c>.</summary>
    CompletionRefused,

    /// <summary>200: the completion function answered <c>success = true</c>.</summary>
    Completed,

    /// <summary>The card path: the pending purchase and its items exist, the checkout session would be created.</summary>
    CheckoutStarted,
}

/// <summary>One replayed request: its stage, the purchase it made, and what each completion call answered.</summary>
/// <param name="Stage">Where the request ended.</param>
/// <param name="PurchaseId">The purchase it inserted, if it got that far.</param>
/// <param name="CompletionSuccesses">What each completion call answered, in order.</param>
/// <param name="Error">The last error or refusal message.</param>
/// <param name="TotalPrice">The total the app computed (a JavaScript number), which a client retry sends again.</param>
public sealed record ReplayOutcome(ReplayStage Stage, Guid? PurchaseId, IReadOnlyList<bool> CompletionSuccesses, string? Error, double TotalPrice = 0);

/// <summary>What <c>complete_stripe_lead_purchase</c> answered the webhook.</summary>
public sealed record StripeCompletion(bool Success, bool AlreadyCompleted, Guid[] LeadIdsMarked);

/// <summary>What one <c>complete_credit_lead_purchase</c> call answered (an error is a failed call, as the app sees a PostgREST error).</summary>
public sealed record CreditCompletion(bool Success, int? NewCreditBalance, string? Error);
