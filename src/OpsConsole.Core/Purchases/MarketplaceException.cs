using Npgsql;

namespace OpsConsole.Core.Purchases;

/// <summary>A marketplace function refused a call with one of the drop-in's business SQLSTATEs.</summary>
public sealed class MarketplaceException(PurchaseOutcome outcome, string sqlState, string message, Exception? inner = null)
    : Exception(message, inner)
{
    /// <summary>The refusal as an outcome.</summary>
    public PurchaseOutcome Outcome { get; } = outcome;

    /// <summary>The SQLSTATE the database raised.</summary>
    public string SqlState { get; } = sqlState;

    /// <summary>True for PostgreSQL's lock_not_available: another purchase holds a lead right now; worth retrying.</summary>
    public bool IsLockNotAvailable => SqlState == MarketplaceErrors.LockNotAvailable;
}

/// <summary>The one place where the drop-in's SQLSTATEs and answers become outcomes (docs/marketplace-contract.md).</summary>
public static class MarketplaceErrors
{
    /// <summary>Bad input: NULL, empty, more than 100, duplicate or NULL lead ids.</summary>
    public const string InvalidParameter = "22023";

    /// <summary>A purchase does not exist (or is not this workspace's), or has no items.</summary>
    public const string NotFound = "P0002";

    /// <summary>validate_and_lock_leads_for_purchase: some leads are not available (RAISE EXCEPTION's default SQLSTATE).</summary>
    public const string NotAvailable = "P0001";

    /// <summary>complete_stripe_lead_purchase: the purchase's status cannot be paid.</summary>
    public const string NotPayable = "55000";

    /// <summary>PostgreSQL's lock_not_available: another transaction holds the row (FOR UPDATE NOWAIT).</summary>
    public const string LockNotAvailable = "55P03";

    /// <summary>How complete_credit_lead_purchase's error_message starts on a retry of a completed purchase.</summary>
    public const string AlreadyCompletedPrefix = "already_completed";

    /// <summary>How complete_credit_lead_purchase's error_message starts when the balance does not cover the total.</summary>
    public const string InsufficientCreditsPrefix = "Insufficient credits";

    /// <summary>The outcome for a business SQLSTATE, or null for any other error (which stays an exception).</summary>
    public static PurchaseOutcome? OutcomeFor(string sqlState) => sqlState switch
    {
        InvalidParameter => PurchaseOutcome.InvalidInput,
        NotFound => PurchaseOutcome.NotFound,
        NotAvailable or NotPayable or LockNotAvailable => PurchaseOutcome.Conflict,
        _ => null,
    };

    /// <summary>What complete_credit_lead_purchase's (success, error_message) means.</summary>
    public static PurchaseOutcome CreditOutcome(bool success, string? errorMessage) => (success, errorMessage) switch
    {
        (true, null) => PurchaseOutcome.Completed,
        (true, { } m) when m.StartsWith(AlreadyCompletedPrefix, StringComparison.Ordinal) => PurchaseOutcome.AlreadyCompleted,
        (true, _) => PurchaseOutcome.Completed,
        (false, { } m) when m.StartsWith(InsufficientCreditsPrefix, StringComparison.Ordinal) => PurchaseOutcome.InsufficientCredits,
        _ => PurchaseOutcome.Conflict,
    };

    /// <summary>
    /// What complete_stripe_lead_purchase's (success, already_completed) means, with the purchase's status after the call:
    /// (false, true) is both "paid before" and "sent to refund", told apart by the status.
    /// </summary>
    public static PurchaseOutcome StripeOutcome(bool success, bool alreadyCompleted, string? statusAfter) => (success, alreadyCompleted) switch
    {
        (true, _) => PurchaseOutcome.Completed,
        (false, true) when statusAfter == "refund_required" => PurchaseOutcome.RefundRequired,
        (false, true) => PurchaseOutcome.AlreadyCompleted,
        _ => PurchaseOutcome.Conflict,
    };

    /// <summary>The status word the Stripe delivery log records for an outcome.</summary>
    public static string StripeStatusWord(PurchaseOutcome outcome) => outcome switch
    {
        PurchaseOutcome.Completed => "completed",
        PurchaseOutcome.Duplicate => "duplicate",
        PurchaseOutcome.AlreadyCompleted => "already_completed",
        PurchaseOutcome.RefundRequired => "refund_required",
        _ => "problem",
    };

    /// <summary>The payment method as the database spells it.</summary>
    public static string ToSql(this PaymentMethod method) => method switch
    {
        PaymentMethod.Credits => "credits",
        PaymentMethod.Stripe => "stripe",
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown payment method."),
    };

    /// <summary>Turns a business error into a <see cref="MarketplaceException"/>; returns null for anything else.</summary>
    public static MarketplaceException? Translate(PostgresException error) =>
        OutcomeFor(error.SqlState) is { } outcome ? new MarketplaceException(outcome, error.SqlState, error.MessageText, error) : null;
}
