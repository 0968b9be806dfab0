using System.Globalization;
using OpsConsole.Core.Actions;

namespace OpsConsole.Core.Credits;

/// <summary>
/// The editor's rules without the database: what the records say about a row, the fix it proposes, what makes a
/// request well-formed, and the balance rule of migration 0001's guard.
/// </summary>
public static class CreditReconciliation
{
    /// <summary>The shortest reason accepted.</summary>
    public const int MinReasonLength = 10;

    /// <summary>The largest absolute delta a <c>numeric(12,2)</c> column can take.</summary>
    public const decimal MaxDelta = 9_999_999_999.99m;

    /// <summary>
    /// Compares the row's <c>total_used</c> and <c>total_earned</c> with the records (<paramref name="records"/>) and
    /// proposes the deltas that make the row agree with them and with the formula. The proposal is a default: the
    /// support person may choose another fix.
    /// </summary>
    public static (CreditExplanation Explanation, CreditProposal Proposal) Explain(
        CreditValues row, MarketplaceRecords records, decimal approvalThreshold)
    {
        var used = new ColumnFinding("total_used", records.Used, row.TotalUsed, records.Used == row.TotalUsed,
            $"used {Money(records.Used)} in {Count(records.CreditPurchases, "credit purchase", "credit purchases")}, total_used says {Money(row.TotalUsed)}");
        var earned = new ColumnFinding("total_earned", records.Earned, row.TotalEarned, records.Earned == row.TotalEarned,
            $"earned {Money(records.Earned)} from {Count(records.Sales, "sale", "sales")}, total_earned says {Money(row.TotalEarned)}");

        // The totals the records support, and the balance that follows from them.
        var fixedTotals = row with { TotalUsed = records.Used, TotalEarned = records.Earned };
        var deltas = new CreditDeltas(fixedTotals.ExpectedBalance - row.Balance, 0, records.Earned - row.TotalEarned, records.Used - row.TotalUsed);
        var balance = new ColumnFinding("balance", row.ExpectedBalance, row.Balance, row.Discrepancy == 0,
            row.Discrepancy == 0
                ? $"balance {Money(row.Balance)} matches total_purchased + total_earned - total_used"
                : $"balance {Money(row.Balance)} is {Money(Math.Abs(row.Discrepancy))} {(row.Discrepancy > 0 ? "above" : "below")} total_purchased + total_earned - total_used = {Money(row.ExpectedBalance)}");

        var off = new[] { used, earned }.Where(f => !f.Agrees).ToList();
        string summary;
        string proposal;
        if (off.Count > 0)
        {
            summary = string.Join("; ", off.Select(f => f.Message)) + $": {string.Join(" and ", off.Select(f => f.Column))} "
                + (off.Count == 1 ? "is" : "are") + " off.";
            proposal = "Make the row agree with the records: " + Describe(deltas) + ".";
        }
        else if (row.Discrepancy != 0)
        {
            summary = $"total_used and total_earned agree with the records ({used.Message}; {earned.Message}); {balance.Message}.";
            proposal = "Move the balance to the formula: " + Describe(deltas) + ".";
        }
        else if (row.Balance < 0)
        {
            summary = $"The row agrees with the records and the formula, but its balance is negative ({Money(row.Balance)}).";
            proposal = "Nothing the records support: a negative balance that agrees with them needs a decision (a credit purchase recorded, or a grant).";
        }
        else
        {
            summary = "The row agrees with the records and with the formula.";
            proposal = "Nothing to fix.";
        }

        var explanation = new CreditExplanation(records.Used, records.CreditPurchases, records.Earned, records.Sales, [used, earned, balance], summary);
        return (explanation, new CreditProposal(deltas, row.Plus(deltas), proposal, deltas.LargestAbsolute > approvalThreshold));
    }

    /// <summary>A bad request, or null: deltas within range and with cents at most, not all zero, a reason of 10+ characters.</summary>
    public static Refusal? Validate(CreditDeltas? deltas, string? reason, string? ticket)
    {
        if (deltas is null)
        {
            return Refusal.Invalid("The deltas are missing.");
        }

        foreach (var (name, value) in Named(deltas))
        {
            if (Math.Abs(value) > MaxDelta)
            {
                return Refusal.Invalid($"{name} {value.ToString(CultureInfo.InvariantCulture)} is out of range (at most {Money(MaxDelta)} either way).");
            }

            if (decimal.Round(value, 2) != value)
            {
                return Refusal.Invalid($"{name} {value.ToString(CultureInfo.InvariantCulture)} has more than two decimals: credits are counted in cents.");
            }
        }

        if (deltas.IsZero)
        {
            return Refusal.Invalid("Every delta is zero: an adjustment must change something.");
        }

        return ValidateReason(reason) ?? (ticket is { Length: > 200 } ? Refusal.Invalid("The ticket reference is longer than 200 characters.") : null);
    }

    /// <summary>A refusal when <paramref name="reason"/> is missing or shorter than <see cref="MinReasonLength"/> characters.</summary>
    public static Refusal? ValidateReason(string? reason) =>
        (reason?.Trim().Length ?? 0) >= MinReasonLength
            ? null
            : Refusal.Invalid($"A reason of at least {MinReasonLength} characters is required: say why, so that the next person understands the change.");

    /// <summary>
    /// The rule of the balance guard (migration 0001): a balance may not become negative, nor more negative than it was;
    /// the same shape for the totals. Null when <paramref name="after"/> is allowed.
    /// </summary>
    public static Refusal? CheckRule(Guid workspaceId, CreditValues before, CreditValues after)
    {
        if (after.Balance < 0 && after.Balance < before.Balance)
        {
            return Refusal.Rule(
                $"This would make the balance of workspace {workspaceId} {Money(after.Balance)} (now {Money(before.Balance)}): a balance may not become "
                + "negative, nor more negative than it is. Choose deltas that keep it at zero or above.");
        }

        foreach (var (name, was, now) in new[]
                 {
                     ("total_purchased", before.TotalPurchased, after.TotalPurchased),
                     ("total_earned", before.TotalEarned, after.TotalEarned),
                     ("total_used", before.TotalUsed, after.TotalUsed),
                 })
        {
            if (now < 0 && now < was)
            {
                return Refusal.Rule($"This would make {name} {Money(now)}: a total may not become negative.");
            }
        }

        return null;
    }

    /// <summary>The deltas in words: "total_earned +42.00, balance -18.25".</summary>
    public static string Describe(CreditDeltas deltas)
    {
        var parts = Named(deltas).Where(p => p.Value != 0).Select(p => $"{p.Name} {Signed(p.Value)}").ToList();
        return parts.Count == 0 ? "no change" : string.Join(", ", parts);
    }

    /// <summary>An amount as the editor writes it: 1,234.50.</summary>
    public static string Money(decimal value) => value.ToString("#,##0.00", CultureInfo.InvariantCulture);

    /// <summary>An amount with its sign: +42.00, -18.25.</summary>
    public static string Signed(decimal value) => (value > 0 ? "+" : value < 0 ? "-" : "") + Money(Math.Abs(value));

    private static IEnumerable<(string Name, decimal Value)> Named(CreditDeltas deltas) =>
    [
        ("balance", deltas.Balance), ("total_purchased", deltas.TotalPurchased),
        ("total_earned", deltas.TotalEarned), ("total_used", deltas.TotalUsed),
    ];

    private static string Count(int n, string one, string many) => n == 1 ? $"1 {one}" : $"{n.ToString(CultureInfo.InvariantCulture)} {many}";
}

/// <summary>What the marketplace's records say a workspace spent and earned.</summary>
/// <param name="Used">Total of its completed credit purchases as a buyer.</param>
/// <param name="CreditPurchases">How many.</param>
/// <param name="Earned">Items of completed purchases (any payment method) of its leads.</param>
/// <param name="Sales">How many items.</param>
public sealed record MarketplaceRecords(decimal Used, int CreditPurchases, decimal Earned, int Sales);
