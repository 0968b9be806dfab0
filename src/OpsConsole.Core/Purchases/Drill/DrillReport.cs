namespace OpsConsole.Core.Purchases.Drill;

/// <summary>A failure the drill looks for; each is a way the purchase functions lose money or sell a lead twice.</summary>
public enum DrillFailure
{
    /// <summary>A lead in more than one completed purchase, or with <c>sold_count</c> above 1. Examples: lead ids.</summary>
    LeadSoldMoreThanOnce,

    /// <summary>A buyer whose credits fell by other than the items' total of its completed credit purchases. Examples: workspace ids.</summary>
    ChargeOffItems,

    /// <summary>A completed purchase whose client retry of the completion charged the buyer again. Examples: purchase ids.</summary>
    RetryChargedAgain,

    /// <summary>A credit row with <c>balance &lt;&gt; total_purchased + total_earned - total_used</c> (the guide's formula). Examples: workspace ids.</summary>
    RowOffFormula,

    /// <summary>A card payment arriving after a credit buyer took its lead that sold the lead again instead of ending <c>refund_required</c>. Examples: purchase ids.</summary>
    LateCardPaymentSoldAgain,
}

/// <summary>How often one failure happened, with a few of the rows it happened on.</summary>
/// <param name="Failure">The failure.</param>
/// <param name="Count">How many rows show it.</param>
/// <param name="Examples">Up to <see cref="ConcurrencyDrill.MaxExamples"/> of their ids (the kind of id is the failure's).</param>
public sealed record DrillFinding(DrillFailure Failure, int Count, IReadOnlyList<Guid> Examples);

/// <summary>What a drill did and found. The ids are of drill rows, which are gone once the report is returned.</summary>
/// <param name="DrillId">The drill's tag: every row it made carried it (workspace slugs, e-mails, the topic).</param>
/// <param name="Database">The target database's name.</param>
/// <param name="Parameters">What ran.</param>
/// <param name="Seconds">How long the rounds took, set-up and clean-up not counted.</param>
/// <param name="Stages">How the replayed credit requests ended, by stage (route.ts' answer).</param>
/// <param name="CompletedPurchases">Drill purchases that ended <c>completed</c>.</param>
/// <param name="LateCardPayments">Card payments whose lead a credit buyer had taken before the webhook came.</param>
/// <param name="RefundRequired">Card purchases the fix ended <c>refund_required</c>.</param>
/// <param name="Findings">One per <see cref="DrillFailure"/>, in its order; a clean run has every count 0.</param>
/// <param name="RowsRemoved">Drill rows the clean-up deleted.</param>
public sealed record DrillReport(
    string DrillId, string Database, DrillParameters Parameters, double Seconds, IReadOnlyDictionary<ReplayStage, int> Stages,
    int CompletedPurchases, int LateCardPayments, int RefundRequired, IReadOnlyList<DrillFinding> Findings, int RowsRemoved)
{
    /// <summary>True when no failure was found.</summary>
    public bool Clean => Findings.All(f => f.Count == 0);

    /// <summary>The finding for one failure.</summary>
    public DrillFinding this[DrillFailure failure] => Findings.Single(f => f.Failure == failure);
}
