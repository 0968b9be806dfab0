using Npgsql;

namespace OpsConsole.Core.Purchases;

/// <summary>A marketplace function refused a call with one of the contract's business SQLSTATEs.</summary>
public sealed class MarketplaceException(PurchaseOutcome outcome, string sqlState, string message, Exception inner)
    : Exception(message, inner)
{
    /// <summary>The refusal as an outcome.</summary>
    public PurchaseOutcome Outcome { get; } = outcome;

    /// <summary>The SQLSTATE the database raised.</summary>
    public string SqlState { get; } = sqlState;

    /// <summary>True for PostgreSQL's lock_not_available: another purchase holds a lead right now; worth retrying.</summary>
    public bool IsLockNotAvailable => SqlState == MarketplaceErrors.LockNotAvailable;
}

/// <summary>The one place where the contract's SQLSTATEs and status words become outcomes.</summary>
public static class MarketplaceErrors
{
    /// <summary>Bad input.</summary>
    public const string InvalidParameter = "22023";

    /// <summary>A lead or purchase does not exist.</summary>
    public const string NotFound = "MK404";

    /// <summary>The buyer tried to buy its own lead.</summary>
    public const string OwnLead = "MK403";

    /// <summary>A lead is not available, or a purchase is not in the state the call needs.</summary>
    public const string NotAvailable = "MK409";

    /// <summary>PostgreSQL's lock_not_available: another transaction holds the row (FOR UPDATE NOWAIT).</summary>
    public const string LockNotAvailable = "55P03";

    /// <summary>The outcome for a business SQLSTATE, or null for any other error (which stays an exception).</summary>
    public static PurchaseOutcome? OutcomeFor(string sqlState) => sqlState switch
    {
        InvalidParameter => PurchaseOutcome.InvalidInput,
        NotFound => PurchaseOutcome.NotFound,
        OwnLead => PurchaseOutcome.OwnLead,
        NotAvailable or LockNotAvailable => PurchaseOutcome.Conflict,
        _ => null,
    };

    /// <summary>The outcome for a status word returned by a completion function.</summary>
    public static PurchaseOutcome OutcomeForStatus(string status) => status switch
    {
        "completed" => PurchaseOutcome.Completed,
        "insufficient_credits" => PurchaseOutcome.InsufficientCredits,
        "duplicate" => PurchaseOutcome.Duplicate,
        "already_completed" => PurchaseOutcome.AlreadyCompleted,
        "refund_required" => PurchaseOutcome.RefundRequired,
        _ => throw new InvalidOperationException($"The database returned an unknown purchase status '{status}'."),
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
