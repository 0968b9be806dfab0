namespace OpsConsole.Core.Purchases;

/// <summary>The closed set of answers a purchase call can give.</summary>
public enum PurchaseOutcome
{
    /// <summary>The leads are sold to the buyer.</summary>
    Completed,

    /// <summary>The leads are reserved for a card payment (Stripe checkout) that has not arrived yet.</summary>
    Reserved,

    /// <summary>The buyer's balance does not cover the price; the purchase is recorded as failed.</summary>
    InsufficientCredits,

    /// <summary>A lead is held by another purchase, sold, or unlisted, or the purchase is not in the state the call needs.</summary>
    Conflict,

    /// <summary>A lead, purchase or workspace does not exist.</summary>
    NotFound,

    /// <summary>The buyer tried to buy one of its own leads.</summary>
    OwnLead,

    /// <summary>The request itself is malformed (empty or duplicate lead ids, too many leads, unknown payment method).</summary>
    InvalidInput,

    /// <summary>This Stripe event was delivered before; only its delivery count changed.</summary>
    Duplicate,

    /// <summary>Another Stripe event already completed this purchase; nothing changed.</summary>
    AlreadyCompleted,

    /// <summary>The card payment arrived after a lead was sold elsewhere; the payment must be refunded.</summary>
    RefundRequired,
}

/// <summary>How a purchase is paid.</summary>
public enum PaymentMethod
{
    /// <summary>From the buyer's workspace credits.</summary>
    Credits,

    /// <summary>By card through Stripe checkout.</summary>
    Stripe,
}
