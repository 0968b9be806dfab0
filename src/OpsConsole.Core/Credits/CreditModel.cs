namespace OpsConsole.Core.Credits;

/// <summary>The four values of a <c>workspace_credits</c> row.</summary>
public sealed record CreditValues(decimal Balance, decimal TotalPurchased, decimal TotalEarned, decimal TotalUsed)
{
    /// <summary>What the balance should be: <c>total_purchased + total_earned - total_used</c>.</summary>
    public decimal ExpectedBalance => TotalPurchased + TotalEarned - TotalUsed;

    /// <summary>balance minus the expected balance: positive when the balance is too high.</summary>
    public decimal Discrepancy => Balance - ExpectedBalance;

    /// <summary>True when the row breaks the formula or its balance is negative.</summary>
    public bool Drifted => Discrepancy != 0 || Balance < 0;

    /// <summary>These values with <paramref name="deltas"/> added.</summary>
    public CreditValues Plus(CreditDeltas deltas) => new(
        Balance + deltas.Balance, TotalPurchased + deltas.TotalPurchased, TotalEarned + deltas.TotalEarned, TotalUsed + deltas.TotalUsed);
}

/// <summary>Changes to the four values of a credit row.</summary>
public sealed record CreditDeltas(decimal Balance, decimal TotalPurchased, decimal TotalEarned, decimal TotalUsed)
{
    /// <summary>No change.</summary>
    public static CreditDeltas None { get; } = new(0, 0, 0, 0);

    /// <summary>True when nothing changes.</summary>
    public bool IsZero => Balance == 0 && TotalPurchased == 0 && TotalEarned == 0 && TotalUsed == 0;

    /// <summary>The largest absolute delta: what the approval threshold is compared with.</summary>
    public decimal LargestAbsolute => new[] { Balance, TotalPurchased, TotalEarned, TotalUsed }.Max(Math.Abs);

    /// <summary>The opposite deltas (a reversal).</summary>
    public CreditDeltas Negated() => new(-Balance, -TotalPurchased, -TotalEarned, -TotalUsed);
}

/// <summary>
/// A workspace's credit row as the drift list and the API show it; <see cref="Version"/> is opaque and changes whenever
/// the row does (pass it back as the expected version of an adjustment).
/// </summary>
public sealed record CreditRow(
    Guid WorkspaceId, string WorkspaceName, decimal Balance, decimal TotalPurchased, decimal TotalEarned, decimal TotalUsed,
    decimal ExpectedBalance, decimal Discrepancy, string Version)
{
    /// <summary>The row's four values.</summary>
    public CreditValues Values => new(Balance, TotalPurchased, TotalEarned, TotalUsed);
}

/// <summary>One column of a credit row compared with what the marketplace's records say it should be.</summary>
/// <param name="Column"><c>total_used</c> or <c>total_earned</c>, or <c>balance</c> against the formula.</param>
/// <param name="Recorded">What the records (or, for the balance, the formula) say.</param>
/// <param name="Row">What the row says.</param>
/// <param name="Agrees">True when they agree.</param>
/// <param name="Message">In words: "earned 42.00 from 3 sales, total_earned says 0.00".</param>
public sealed record ColumnFinding(string Column, decimal Recorded, decimal Row, bool Agrees, string Message);

/// <summary>What the marketplace's own records say about a workspace, next to its credit row.</summary>
/// <param name="UsedByRecords">Credits spent as a buyer: total of its completed credit purchases.</param>
/// <param name="CreditPurchases">How many completed credit purchases.</param>
/// <param name="EarnedByRecords">Credits earned as a seller: items of completed purchases of its leads.</param>
/// <param name="Sales">How many such items (leads sold).</param>
/// <param name="Findings">total_used, total_earned, then the balance against the formula.</param>
/// <param name="Summary">One or two sentences: which column is off, or that the records agree and only the balance is.</param>
public sealed record CreditExplanation(
    decimal UsedByRecords, int CreditPurchases, decimal EarnedByRecords, int Sales, IReadOnlyList<ColumnFinding> Findings, string Summary);

/// <summary>The fix the editor proposes: the deltas that make the row agree with the records and the formula.</summary>
/// <param name="Deltas">The proposed deltas (all zero when nothing needs fixing).</param>
/// <param name="After">The row after them.</param>
/// <param name="Summary">In words.</param>
/// <param name="NeedsApproval">True when the largest delta is above the approval threshold.</param>
public sealed record CreditProposal(CreditDeltas Deltas, CreditValues After, string Summary, bool NeedsApproval);

/// <summary>One workspace in the editor: its row, version, what the records say, and the proposed fix.</summary>
public sealed record CreditWorkspace(CreditRow Row, string Version, CreditExplanation Explanation, CreditProposal Proposal);

/// <summary>The statuses of an adjustment.</summary>
public static class AdjustmentStatus
{
    /// <summary>Waits for a second person (its largest delta is above the threshold).</summary>
    public const string PendingApproval = "pending_approval";

    /// <summary>Its deltas are in the credit row.</summary>
    public const string Applied = "applied";

    /// <summary>A checker refused it; nothing was applied.</summary>
    public const string Rejected = "rejected";

    /// <summary>It was applied and later undone by a linked reversal.</summary>
    public const string Reversed = "reversed";

    /// <summary>Every status.</summary>
    public static IReadOnlyList<string> All { get; } = [PendingApproval, Applied, Rejected, Reversed];
}

/// <summary>An adjustment as the journal shows it, with its current status.</summary>
public sealed record CreditAdjustment(
    long Id, Guid WorkspaceId, string WorkspaceName, CreditDeltas Deltas, string Reason, string? Ticket,
    string MakerId, string MakerName, DateTimeOffset CreatedAt, string Status, DateTimeOffset StatusAt, string StatusBy,
    string? StatusReason, CreditValues Before, CreditValues After, long? ReversesId, long? ReversedById, Guid? BatchId);

/// <summary>What a maker asks for.</summary>
/// <param name="WorkspaceId">The workspace.</param>
/// <param name="ExpectedVersion">The version of the row the maker looked at.</param>
/// <param name="Deltas">The deltas.</param>
/// <param name="Reason">Why, at least 10 characters.</param>
/// <param name="Ticket">Optional ticket reference.</param>
public sealed record AdjustmentRequest(Guid WorkspaceId, string? ExpectedVersion, CreditDeltas Deltas, string? Reason, string? Ticket);

/// <summary>The result of an adjustment, an approval or a reversal.</summary>
/// <param name="Id">The adjustment.</param>
/// <param name="Status"><c>applied</c> or <c>pending_approval</c> (<c>rejected</c> after a rejection).</param>
/// <param name="Before">The row before (for a pending one, as the maker saw it).</param>
/// <param name="After">The row after (for a pending one, as it will be).</param>
public sealed record AdjustmentOutcome(long Id, string Status, CreditValues Before, CreditValues After);

/// <summary>What a stale write is refused with: the row as it is now.</summary>
public sealed record CurrentCredit(string Version, CreditValues Values);

/// <summary>One entry of a workspace's credit history, newest first.</summary>
/// <param name="At">When.</param>
/// <param name="Kind"><c>purchase</c> (as buyer), <c>sale</c> (as seller) or <c>adjustment</c>.</param>
/// <param name="Reference">The purchase id or the adjustment number.</param>
/// <param name="Description">In words.</param>
/// <param name="BalanceEffect">What it did to the balance (0 for a purchase paid by card).</param>
/// <param name="BalanceAfter">The running balance after it, counted back from the current balance.</param>
public sealed record CreditHistoryEntry(DateTimeOffset At, string Kind, string Reference, string Description, decimal BalanceEffect, decimal BalanceAfter);

/// <summary>One page of a workspace's history.</summary>
public sealed record CreditHistoryPage(IReadOnlyList<CreditHistoryEntry> Entries, int Page, int PageSize, int Total);

/// <summary>One row of a bulk reconcile's dry run.</summary>
/// <param name="Row">The row as it is now (its version is what the apply checks).</param>
/// <param name="Deltas">The proposed deltas.</param>
/// <param name="After">The row after them.</param>
/// <param name="NeedsApproval">Above the threshold: it will wait for a checker.</param>
/// <param name="Refusal">Why it would be refused (a negative balance, nothing to fix), or null.</param>
public sealed record BulkPlanRow(CreditRow Row, CreditDeltas Deltas, CreditValues After, bool NeedsApproval, string? Refusal);

/// <summary>A bulk reconcile's dry run: per row, and totals. Nothing was written.</summary>
public sealed record BulkPlan(IReadOnlyList<BulkPlanRow> Rows, CreditDeltas TotalDeltas, decimal DiscrepancyBefore, decimal DiscrepancyAfter);

/// <summary>One row of a bulk apply, as the dry run showed it.</summary>
public sealed record BulkItem(Guid WorkspaceId, string ExpectedVersion, CreditDeltas Deltas);

/// <summary>What happened to one row of a bulk apply.</summary>
/// <param name="WorkspaceId">The workspace.</param>
/// <param name="Outcome">The adjustment, when it was made.</param>
/// <param name="Refusal">Why not, otherwise.</param>
public sealed record BulkOutcomeRow(Guid WorkspaceId, AdjustmentOutcome? Outcome, string? Refusal);

/// <summary>A bulk apply: one id for the batch, one outcome per row.</summary>
public sealed record BulkOutcome(Guid BatchId, IReadOnlyList<BulkOutcomeRow> Rows);
