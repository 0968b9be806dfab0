using OpsConsole.Core.Exports;

namespace OpsConsole.Core.Credits;

/// <summary>The columns of the credit editor's CSV exports (written by <see cref="CsvExport"/>).</summary>
public static class CreditExports
{
    /// <summary>The drift list: one line per drifted workspace, with the full formula's expected balance.</summary>
    public static IReadOnlyList<CsvColumn<CreditRow>> DriftColumns { get; } =
    [
        new("workspace_id", r => r.WorkspaceId),
        new("workspace_name", r => r.WorkspaceName),
        new("balance", r => r.Balance),
        new("total_purchased", r => r.TotalPurchased),
        new("total_earned", r => r.TotalEarned),
        new("total_used", r => r.TotalUsed),
        new("expected_balance", r => r.ExpectedBalance),
        new("discrepancy", r => r.Discrepancy),
    ];

    /// <summary>The journal: one line per adjustment with its current status.</summary>
    public static IReadOnlyList<CsvColumn<CreditAdjustment>> JournalColumns { get; } =
    [
        new("id", a => a.Id),
        new("workspace_id", a => a.WorkspaceId),
        new("workspace_name", a => a.WorkspaceName),
        new("status", a => a.Status),
        new("balance_delta", a => a.Deltas.Balance),
        new("total_purchased_delta", a => a.Deltas.TotalPurchased),
        new("total_earned_delta", a => a.Deltas.TotalEarned),
        new("total_used_delta", a => a.Deltas.TotalUsed),
        new("reason", a => a.Reason),
        new("ticket", a => a.Ticket),
        new("maker", a => a.MakerName),
        new("maker_id", a => a.MakerId),
        new("created_at", a => a.CreatedAt),
        new("status_by", a => a.StatusBy),
        new("status_at", a => a.StatusAt),
        new("status_reason", a => a.StatusReason),
        new("balance_before", a => a.Before.Balance),
        new("balance_after", a => a.After.Balance),
        new("reverses_id", a => a.ReversesId),
        new("reversed_by_id", a => a.ReversedById),
        new("batch_id", a => a.BatchId),
    ];
}
