using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Database;
using OpsConsole.Core.Exports;

namespace OpsConsole.Core.Credits;

/// <summary>
/// The credit reconciliation editor: drifted rows, what the records say about them, and adjustments as recorded,
/// reviewed, reversible entries. Every action takes the acting person and checks their permission first; every
/// change is one transaction (<see cref="OpsTransactions"/>) that locks the credit row, checks its version, and
/// writes the journal and an <c>audit_logs</c> row, or writes nothing.
/// </summary>
public sealed class CreditService(OpsTransactions transactions, IOptions<CreditOptions> options)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private decimal Threshold => options.Value.ApprovalThreshold;

    /// <summary>The approval threshold in force.</summary>
    public decimal ApprovalThreshold => Threshold;

    /// <summary>Workspaces whose balance is not <c>total_purchased + total_earned - total_used</c>, or is negative.</summary>
    public async Task<OpsResult<IReadOnlyList<CreditRow>>> ListDriftAsync(OpsActor actor, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        return OpsResult<IReadOnlyList<CreditRow>>.Success(await ReadAsync(tx => tx.QueryAsync<CreditRow>(DriftSql), cancellationToken));
    }

    /// <summary>One workspace: its row and version, what the records say, and the proposed fix.</summary>
    public async Task<OpsResult<CreditWorkspace>> GetWorkspaceAsync(OpsActor actor, Guid workspaceId, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        var workspace = await ReadAsync(tx => LoadWorkspaceAsync(tx, workspaceId), cancellationToken);
        return workspace is null ? UnknownWorkspace(workspaceId) : workspace;
    }

    /// <summary>A page (1-based) of the workspace's purchases, sales and applied adjustments, newest first, with a running balance.</summary>
    public async Task<OpsResult<CreditHistoryPage>> GetHistoryAsync(OpsActor actor, Guid workspaceId, int page, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        if (page < 1)
        {
            return Refusal.Invalid("Pages are counted from 1.");
        }

        var size = options.Value.HistoryPageSize;
        return await ReadAsync<OpsResult<CreditHistoryPage>>(async tx =>
        {
            if (await FindRowAsync(tx, workspaceId) is null)
            {
                return UnknownWorkspace(workspaceId);
            }

            // The offset is a long: (page - 1) * size in int wraps negative for a large page number.
            var rows = await tx.QueryAsync<HistoryRow>(HistorySql, new { Id = workspaceId, Limit = size, Offset = (page - 1L) * size });
            var total = rows.Count > 0 ? rows[0].Total : await tx.QuerySingleAsync<int>(HistoryCountSql, new { Id = workspaceId });
            var lastPage = Math.Max(1, (total + size - 1) / size);
            if (page > lastPage)
            {
                return Refusal.Invalid($"Page {page} is past the last page ({lastPage}).");
            }

            return new CreditHistoryPage(
                [.. rows.Select(r => new CreditHistoryEntry(r.At, r.Kind, r.Reference, r.Description, r.Effect, r.BalanceAfter))], page, size, total);
        }, cancellationToken);
    }

    /// <summary>The journal, newest first, optionally of one workspace and one status.</summary>
    public async Task<OpsResult<IReadOnlyList<CreditAdjustment>>> ListAdjustmentsAsync(
        OpsActor actor, Guid? workspaceId, string? status, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        if (status is not null && !AdjustmentStatus.All.Contains(status))
        {
            return Refusal.Invalid($"Unknown status '{status}': use one of {string.Join(", ", AdjustmentStatus.All)}.");
        }

        var rows = await ReadAsync(tx => tx.QueryAsync<JournalRow>(JournalSql, new { WorkspaceId = workspaceId, Status = status, Id = (long?)null }), cancellationToken);
        return OpsResult<IReadOnlyList<CreditAdjustment>>.Success([.. rows.Select(r => r.ToAdjustment())]);
    }

    /// <summary>One adjustment of the journal.</summary>
    public async Task<OpsResult<CreditAdjustment>> GetAdjustmentAsync(OpsActor actor, long id, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        var row = await ReadAsync(tx => LoadAdjustmentAsync(tx, id), cancellationToken);
        return row is null ? UnknownAdjustment(id) : row;
    }

    /// <summary>
    /// Makes an adjustment: applied at once, or <c>pending_approval</c> when its largest delta is above the threshold.
    /// Refused when the row is no longer at <see cref="AdjustmentRequest.ExpectedVersion"/> (with the current values),
    /// or when the balance would become negative.
    /// </summary>
    public async Task<OpsResult<AdjustmentOutcome>> AdjustAsync(OpsActor actor, AdjustmentRequest request, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.EditCredits) is { } refusal)
        {
            return refusal;
        }

        if (string.IsNullOrWhiteSpace(request.ExpectedVersion))
        {
            return Refusal.Invalid("expectedVersion is missing: load the workspace and send the version you saw.");
        }

        if (CreditReconciliation.Validate(request.Deltas, request.Reason, request.Ticket) is { } invalid)
        {
            return invalid;
        }

        return await transactions.RunAsync(
            tx => CreateAsync(tx, actor, request.WorkspaceId, request.ExpectedVersion, request.Deltas, request.Reason!.Trim(), Blank(request.Ticket), null, null),
            cancellationToken);
    }

    /// <summary>
    /// A checker approves a pending adjustment: not its maker, and only while the row is still at the version the maker
    /// saw (otherwise the maker redoes it against the current values).
    /// </summary>
    public async Task<OpsResult<AdjustmentOutcome>> ApproveAsync(OpsActor actor, long id, string? reason, CancellationToken cancellationToken)
    {
        if (MayDecide(actor, reason) is { } refusal)
        {
            return refusal;
        }

        return await transactions.RunAsync<AdjustmentOutcome>(tx => Guarded(async () =>
        {
            var locked = await LockPendingAsync(tx, actor, id, "approve");
            if (locked.Refusal is not null)
            {
                return locked.Refusal;
            }

            var (pending, row) = (locked.Value, locked.Value.Row);
            if (row.Version != pending.SeenVersion)
            {
                return Refusal.Conflict(
                    $"This balance changed since you looked: workspace {pending.WorkspaceName} is no longer at the values adjustment #{id} was made "
                    + $"against ({Values(row.Values)} now). It cannot be approved as it is: reject it, and let the maker redo it against the current values.",
                    new CurrentCredit(row.Version, row.Values));
            }

            return await ApplyAsync(tx, actor, pending.Adjustment, row, reason!.Trim());
        }), cancellationToken);
    }

    // An approval, rejection or reversal needs the permission and a reason, checked before anything is read.
    private static Refusal? MayDecide(OpsActor actor, string? reason) =>
        actor.Lacks(OpsPermissions.EditCredits) ?? CreditReconciliation.ValidateReason(reason);

    /// <summary>A checker (not the maker) rejects a pending adjustment; nothing is applied.</summary>
    public async Task<OpsResult<AdjustmentOutcome>> RejectAsync(OpsActor actor, long id, string? reason, CancellationToken cancellationToken)
    {
        if (MayDecide(actor, reason) is { } refusal)
        {
            return refusal;
        }

        return await transactions.RunAsync<AdjustmentOutcome>(async tx =>
        {
            var locked = await LockPendingAsync(tx, actor, id, "reject");
            if (locked.Refusal is not null)
            {
                return locked.Refusal;
            }

            var pending = locked.Value.Adjustment;
            await AppendEventAsync(tx, pending.Id, pending.WorkspaceId, AdjustmentStatus.Rejected, actor, reason!.Trim(), null, null);
            await tx.AuditAsync("credit_adjustment_rejected", pending.WorkspaceId, actor, new { adjustmentId = id, reason = reason.Trim(), makerId = pending.MakerId });
            return new AdjustmentOutcome(id, AdjustmentStatus.Rejected, pending.Before, pending.Before);
        }, cancellationToken);
    }

    /// <summary>
    /// Reverses an applied adjustment with a new, linked one of opposite deltas (itself subject to the threshold);
    /// the original is marked <c>reversed</c> once the reversal is applied. Refused when the balance would become negative.
    /// </summary>
    public async Task<OpsResult<AdjustmentOutcome>> ReverseAsync(OpsActor actor, long id, string? reason, CancellationToken cancellationToken)
    {
        if (MayDecide(actor, reason) is { } refusal)
        {
            return refusal;
        }

        return await transactions.RunAsync<AdjustmentOutcome>(async tx =>
        {
            var workspaceId = await tx.QuerySingleOrDefaultAsync<Guid?>("SELECT workspace_id FROM ops.credit_adjustments WHERE id = @Id", new { Id = id });
            if (workspaceId is null)
            {
                return UnknownAdjustment(id);
            }

            await LockRowAsync(tx, workspaceId.Value);
            var original = (await LoadAdjustmentAsync(tx, id))!;
            if (original.Status != AdjustmentStatus.Applied)
            {
                return Refusal.Conflict($"Adjustment #{id} is {original.Status}: only an applied adjustment can be reversed.");
            }

            var waiting = await tx.QuerySingleOrDefaultAsync<long?>(PendingReversalSql, new { Id = id });
            if (waiting is { } other)
            {
                return Refusal.Conflict($"Adjustment #{other}, a reversal of #{id}, is already waiting for approval.");
            }

            return await CreateAsync(tx, actor, original.WorkspaceId, null, original.Deltas.Negated(), reason!.Trim(), original.Ticket, id, null);
        }, cancellationToken);
    }

    /// <summary>The dry run of a bulk reconcile: per workspace, the row now, the proposed deltas and the row after. Writes nothing.</summary>
    public async Task<OpsResult<BulkPlan>> PlanBulkAsync(OpsActor actor, IReadOnlyList<Guid> workspaceIds, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        if (workspaceIds.Count == 0)
        {
            return Refusal.Invalid("Select at least one workspace.");
        }

        return await ReadAsync<OpsResult<BulkPlan>>(async tx =>
        {
            var rows = new List<BulkPlanRow>();
            foreach (var id in workspaceIds.Distinct())
            {
                if (await LoadWorkspaceAsync(tx, id) is not { } workspace)
                {
                    return UnknownWorkspace(id);
                }

                var proposal = workspace.Proposal;
                var why = proposal.Deltas.IsZero
                    ? "Nothing the records support to change."
                    : CreditReconciliation.CheckRule(id, workspace.Row.Values, proposal.After)?.Message;
                rows.Add(new BulkPlanRow(workspace.Row, proposal.Deltas, proposal.After, proposal.NeedsApproval, why));
            }

            var applicable = rows.Where(r => r.Refusal is null).ToList();
            var total = new CreditDeltas(
                applicable.Sum(r => r.Deltas.Balance), applicable.Sum(r => r.Deltas.TotalPurchased),
                applicable.Sum(r => r.Deltas.TotalEarned), applicable.Sum(r => r.Deltas.TotalUsed));
            return new BulkPlan(rows, total, rows.Sum(r => Math.Abs(r.Row.Discrepancy)),
                rows.Sum(r => Math.Abs(r.Refusal is null ? r.After.Discrepancy : r.Row.Discrepancy)));
        }, cancellationToken);
    }

    /// <summary>
    /// Applies a bulk reconcile as its dry run showed it: each row in its own transaction with its own version check and
    /// outcome, all under one batch id (on each adjustment and on one <c>credit_bulk_reconcile</c> audit row).
    /// </summary>
    public async Task<OpsResult<BulkOutcome>> ApplyBulkAsync(OpsActor actor, IReadOnlyList<BulkItem> items, string? reason, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.EditCredits) is { } refusal)
        {
            return refusal;
        }

        if (items.Count == 0)
        {
            return Refusal.Invalid("Select at least one workspace.");
        }

        foreach (var item in items)
        {
            if (CreditReconciliation.Validate(item.Deltas, reason, null) is { } invalid)
            {
                return invalid;
            }
        }

        var batchId = Guid.CreateVersion7();
        var outcomes = new List<BulkOutcomeRow>();
        foreach (var item in items)
        {
            var result = await transactions.RunAsync(
                tx => CreateAsync(tx, actor, item.WorkspaceId, item.ExpectedVersion, item.Deltas, reason!.Trim(), null, null, batchId), cancellationToken);
            outcomes.Add(result.Succeeded
                ? new BulkOutcomeRow(item.WorkspaceId, result.Value, null)
                : new BulkOutcomeRow(item.WorkspaceId, null, result.Refusal!.Message));
        }

        await transactions.RunAsync<bool>(async tx =>
        {
            await tx.AuditAsync("credit_bulk_reconcile", null, actor, new
            {
                batchId,
                reason = reason!.Trim(),
                rows = outcomes.Select(o => new { o.WorkspaceId, adjustmentId = o.Outcome?.Id, status = o.Outcome?.Status, refusal = o.Refusal }),
            });
            return true;
        }, cancellationToken);
        return new BulkOutcome(batchId, outcomes);
    }

    /// <summary>The drift list as CSV.</summary>
    public async Task<OpsResult<string>> ExportDriftAsync(OpsActor actor, CancellationToken cancellationToken)
    {
        var drift = await ListDriftAsync(actor, cancellationToken);
        return drift.Succeeded ? CsvExport.Write(drift.Value, CreditExports.DriftColumns) : drift.Refusal!;
    }

    /// <summary>The journal as CSV, optionally of one workspace and one status.</summary>
    public async Task<OpsResult<string>> ExportJournalAsync(OpsActor actor, Guid? workspaceId, string? status, CancellationToken cancellationToken)
    {
        var journal = await ListAdjustmentsAsync(actor, workspaceId, status, cancellationToken);
        return journal.Succeeded ? CsvExport.Write(journal.Value, CreditExports.JournalColumns) : journal.Refusal!;
    }

    // ---- inside a transaction ----

    private async Task<OpsResult<AdjustmentOutcome>> CreateAsync(
        OpsTransaction tx, OpsActor actor, Guid workspaceId, string? expectedVersion, CreditDeltas deltas, string reason, string? ticket,
        long? reversesId, Guid? batchId) => await Guarded(async () =>
    {
        if (await LockRowAsync(tx, workspaceId) is not { } row)
        {
            return UnknownWorkspace(workspaceId);
        }

        if (expectedVersion is not null && expectedVersion != row.Version)
        {
            return Refusal.Conflict(
                $"This balance changed since you looked: workspace {row.WorkspaceName} is now at {Values(row.Values)}. Nothing was applied; "
                + "review the current values and make the adjustment again.",
                new CurrentCredit(row.Version, row.Values));
        }

        var after = row.Values.Plus(deltas);
        if (CreditReconciliation.CheckRule(workspaceId, row.Values, after) is { } rule)
        {
            return rule;
        }

        var id = await tx.QuerySingleAsync<long>(InsertAdjustmentSql, new
        {
            WorkspaceId = workspaceId,
            deltas.Balance,
            deltas.TotalPurchased,
            deltas.TotalEarned,
            deltas.TotalUsed,
            Reason = reason,
            Ticket = ticket,
            MakerId = actor.Id,
            MakerName = actor.DisplayName,
            SeenVersion = row.Version,
            Before = JsonSerializer.Serialize(row.Values, Json),
            After = JsonSerializer.Serialize(after, Json),
            ReversesId = reversesId,
            BatchId = batchId,
        });
        var adjustment = new PendingAdjustment(id, workspaceId, deltas, actor.Id, row.Values, reversesId);
        if (deltas.LargestAbsolute > Threshold)
        {
            await AppendEventAsync(tx, id, workspaceId, AdjustmentStatus.PendingApproval, actor, null, null, null);
            await tx.AuditAsync("credit_adjustment_requested", workspaceId, actor, new
            {
                adjustmentId = id, deltas, reason, ticket, before = row.Values, after, reversesId, batchId, threshold = Threshold,
            });
            return new AdjustmentOutcome(id, AdjustmentStatus.PendingApproval, row.Values, after);
        }

        return await ApplyAsync(tx, actor, adjustment, row, null);
    });

    // The row is locked and at the version the adjustment was made against; the rule is checked again.
    private static async Task<OpsResult<AdjustmentOutcome>> ApplyAsync(
        OpsTransaction tx, OpsActor actor, PendingAdjustment adjustment, CreditRow row, string? approvalReason)
    {
        var expected = row.Values.Plus(adjustment.Deltas);
        if (CreditReconciliation.CheckRule(adjustment.WorkspaceId, row.Values, expected) is { } rule)
        {
            return rule;
        }

        if (adjustment.ReversesId is { } reversed)
        {
            var status = await tx.QuerySingleAsync<string>(StatusSql, new { Id = reversed });
            if (status != AdjustmentStatus.Applied)
            {
                return Refusal.Conflict($"Adjustment #{reversed} is {status} now: only an applied adjustment can be reversed.");
            }
        }

        var after = await tx.QuerySingleAsync<CreditValues>(ApplyDeltasSql, new
        {
            Id = adjustment.WorkspaceId,
            adjustment.Deltas.Balance,
            adjustment.Deltas.TotalPurchased,
            adjustment.Deltas.TotalEarned,
            adjustment.Deltas.TotalUsed,
        });
        await AppendEventAsync(tx, adjustment.Id, adjustment.WorkspaceId, AdjustmentStatus.Applied, actor, approvalReason, row.Values, after);
        if (adjustment.ReversesId is { } original)
        {
            await AppendEventAsync(tx, original, adjustment.WorkspaceId, AdjustmentStatus.Reversed, actor, $"Reversed by adjustment #{adjustment.Id}", null, null);
        }

        await tx.AuditAsync("credit_adjustment", adjustment.WorkspaceId, actor, new
        {
            adjustmentId = adjustment.Id,
            deltas = adjustment.Deltas,
            before = row.Values,
            after,
            makerId = adjustment.MakerId,
            approvedBy = approvalReason is null ? null : actor.Id,
            approvalReason,
            reversesId = adjustment.ReversesId,
        });
        return new AdjustmentOutcome(adjustment.Id, AdjustmentStatus.Applied, row.Values, after);
    }

    // Locks the credit row of the adjustment's workspace (every change of a workspace's journal queues there), then
    // reads the adjustment's status as it is now: pending, and not the actor's own.
    private static async Task<OpsResult<LockedPending>> LockPendingAsync(OpsTransaction tx, OpsActor actor, long id, string verb)
    {
        var workspaceId = await tx.QuerySingleOrDefaultAsync<Guid?>("SELECT workspace_id FROM ops.credit_adjustments WHERE id = @Id", new { Id = id });
        if (workspaceId is null)
        {
            return UnknownAdjustment(id);
        }

        if (await LockRowAsync(tx, workspaceId.Value) is not { } row)
        {
            return UnknownWorkspace(workspaceId.Value);
        }

        var adjustment = (await LoadAdjustmentAsync(tx, id))!;
        if (adjustment.Status != AdjustmentStatus.PendingApproval)
        {
            return Refusal.Conflict($"Adjustment #{id} is {adjustment.Status}, not waiting for approval: there is nothing to {verb}.");
        }

        if (actor.Is(adjustment.MakerId))
        {
            return Refusal.Forbidden($"You made adjustment #{id}: another person with the edit permission must {verb} it.");
        }

        var seen = await tx.QuerySingleAsync<string>("SELECT seen_version FROM ops.credit_adjustments WHERE id = @Id", new { Id = id });
        var pending = new PendingAdjustment(id, adjustment.WorkspaceId, adjustment.Deltas, adjustment.MakerId, adjustment.Before, adjustment.ReversesId);
        return new LockedPending(pending, seen, adjustment.WorkspaceName, row);
    }

    private static Task<int> AppendEventAsync(
        OpsTransaction tx, long adjustmentId, Guid workspaceId, string status, OpsActor actor, string? reason, CreditValues? before, CreditValues? after) =>
        tx.ExecuteAsync(InsertEventSql, new
        {
            AdjustmentId = adjustmentId,
            WorkspaceId = workspaceId,
            Status = status,
            ActorId = actor.Id,
            ActorName = actor.DisplayName,
            Reason = reason,
            Before = before is null ? null : JsonSerializer.Serialize(before, Json),
            After = after is null ? null : JsonSerializer.Serialize(after, Json),
        });

    private static Task<CreditRow?> LockRowAsync(OpsTransaction tx, Guid workspaceId) =>
        tx.QuerySingleOrDefaultAsync<CreditRow>(RowSql + " WHERE c.workspace_id = @Id FOR UPDATE OF c", new { Id = workspaceId });

    private static Task<CreditRow?> FindRowAsync(OpsTransaction tx, Guid workspaceId) =>
        tx.QuerySingleOrDefaultAsync<CreditRow>(RowSql + " WHERE c.workspace_id = @Id", new { Id = workspaceId });

    private async Task<CreditWorkspace?> LoadWorkspaceAsync(OpsTransaction tx, Guid workspaceId)
    {
        if (await FindRowAsync(tx, workspaceId) is not { } row)
        {
            return null;
        }

        var records = await tx.QuerySingleAsync<MarketplaceRecords>(RecordsSql, new { Id = workspaceId });
        var (explanation, proposal) = CreditReconciliation.Explain(row.Values, records, Threshold);
        return new CreditWorkspace(row, row.Version, explanation, proposal);
    }

    private static async Task<CreditAdjustment?> LoadAdjustmentAsync(OpsTransaction tx, long id) =>
        (await tx.QuerySingleOrDefaultAsync<JournalRow>(JournalSql, new { WorkspaceId = (Guid?)null, Status = (string?)null, Id = (long?)id }))?.ToAdjustment();

    // Reads in a read-only transaction of their own, so that a page's several queries see one snapshot.
    private async Task<T> ReadAsync<T>(Func<OpsTransaction, Task<T>> read, CancellationToken cancellationToken)
    {
        var result = await transactions.RunAsync<T>(async tx =>
        {
            await tx.ExecuteAsync("SET TRANSACTION READ ONLY");
            return OpsResult<T>.Success(await read(tx));
        }, cancellationToken, System.Data.IsolationLevel.RepeatableRead);
        return result.Value;
    }

    // The balance guard of 0001 (23514) and the journal's once-per-status key (23505) are the database's last word
    // when two changes race past the service's own checks: both become refusals, and the transaction rolls back.
    private static async Task<OpsResult<T>> Guarded<T>(Func<Task<OpsResult<T>>> work)
    {
        try
        {
            return await work();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.CheckViolation)
        {
            return Refusal.Rule($"The database's balance guard refused it: {e.MessageText}. A balance may not become negative, nor more negative than it is.");
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return Refusal.Conflict("Someone else changed this adjustment at the same moment; reload and look again.");
        }
    }

    private static Refusal UnknownWorkspace(Guid id) => Refusal.NotFound($"No workspace {id} with a credit row.");

    private static Refusal UnknownAdjustment(long id) => Refusal.NotFound($"No adjustment #{id}.");

    private static string Values(CreditValues v) =>
        $"balance {CreditReconciliation.Money(v.Balance)}, purchased {CreditReconciliation.Money(v.TotalPurchased)}, "
        + $"earned {CreditReconciliation.Money(v.TotalEarned)}, used {CreditReconciliation.Money(v.TotalUsed)}";

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    private sealed record LockedPending(PendingAdjustment Adjustment, string SeenVersion, string WorkspaceName, CreditRow Row);

    private sealed record PendingAdjustment(long Id, Guid WorkspaceId, CreditDeltas Deltas, string MakerId, CreditValues Before, long? ReversesId);

    // ---- SQL ----

    // The version: opaque to callers, different after any write of the row (xmin) and bound to its values.
    private const string RowSql = """
        SELECT c.workspace_id AS WorkspaceId, w.name AS WorkspaceName, c.balance AS Balance, c.total_purchased AS TotalPurchased,
               c.total_earned AS TotalEarned, c.total_used AS TotalUsed,
               c.total_purchased + c.total_earned - c.total_used AS ExpectedBalance,
               c.balance - (c.total_purchased + c.total_earned - c.total_used) AS Discrepancy,
               left(md5(c.xmin::text || ':' || c.balance::text || ':' || c.total_purchased::text || ':' || c.total_earned::text
                        || ':' || c.total_used::text), 16) AS Version
        FROM workspace_credits AS c
        JOIN workspaces AS w ON w.id = c.workspace_id
        """;

    private const string DriftSql = RowSql + """

        WHERE c.balance <> c.total_purchased + c.total_earned - c.total_used OR c.balance < 0
        ORDER BY w.name, c.workspace_id
        """;

    // Aggregates without GROUP BY: always one row, zeros for a workspace without records.
    private const string RecordsSql = """
        SELECT u.used AS Used, u.purchases AS CreditPurchases, s.earned AS Earned, s.sales AS Sales
        FROM (SELECT coalesce(sum(p.total_price), 0) AS used, count(*)::int AS purchases
              FROM marketplace_purchases AS p
              WHERE p.buyer_workspace_id = @Id AND p.status = 'completed' AND p.payment_method = 'credits') AS u,
             (SELECT coalesce(sum(i.price), 0) AS earned, count(*)::int AS sales
              FROM leads AS l
              JOIN marketplace_purchase_items AS i ON i.lead_id = l.id
              JOIN marketplace_purchases AS p ON p.id = i.purchase_id AND p.status = 'completed'
              WHERE l.workspace_id = @Id) AS s
        """;

    private const string HistoryEntriesSql = """
        WITH entries AS (
            SELECT p.completed_at AS at, 'purchase' AS kind, p.id::text AS reference,
                   format('Bought %s lead(s) for %s, paid by %s', (SELECT count(*) FROM marketplace_purchase_items AS i WHERE i.purchase_id = p.id),
                          to_char(p.total_price, 'FM999,999,999,990.00'), p.payment_method) AS description,
                   CASE WHEN p.payment_method = 'credits' THEN -p.total_price ELSE 0 END AS effect
            FROM marketplace_purchases AS p
            WHERE p.buyer_workspace_id = @Id AND p.status = 'completed'
            UNION ALL
            SELECT p.completed_at, 'sale', p.id::text,
                   format('Sold %s lead(s) to %s', count(*), min(w.name)), sum(i.price)
            FROM leads AS l
            JOIN marketplace_purchase_items AS i ON i.lead_id = l.id
            JOIN marketplace_purchases AS p ON p.id = i.purchase_id AND p.status = 'completed'
            JOIN workspaces AS w ON w.id = p.buyer_workspace_id
            WHERE l.workspace_id = @Id
            GROUP BY p.id, p.completed_at
            UNION ALL
            SELECT e.at, 'adjustment', '#' || a.id,
                   format('Adjustment #%s by %s: %s', a.id, a.maker_name, a.reason), a.balance_delta
            FROM ops.credit_adjustment_events AS e
            JOIN ops.credit_adjustments AS a ON a.id = e.adjustment_id
            WHERE e.workspace_id = @Id AND e.status = 'applied'
        )
        """;

    private const string HistorySql = HistoryEntriesSql + """
        SELECT at AS At, kind AS Kind, reference AS Reference, description AS Description, effect AS Effect,
               (SELECT balance FROM workspace_credits WHERE workspace_id = @Id)
                 - coalesce(sum(effect) OVER (ORDER BY at DESC, reference DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS BalanceAfter,
               count(*) OVER ()::int AS Total
        FROM entries
        ORDER BY at DESC, reference DESC
        LIMIT @Limit OFFSET @Offset
        """;

    private const string HistoryCountSql = HistoryEntriesSql + "SELECT count(*)::int FROM entries";

    private const string JournalSql = """
        SELECT a.id AS Id, a.workspace_id AS WorkspaceId, w.name AS WorkspaceName,
               a.balance_delta AS BalanceDelta, a.total_purchased_delta AS TotalPurchasedDelta,
               a.total_earned_delta AS TotalEarnedDelta, a.total_used_delta AS TotalUsedDelta,
               a.reason AS Reason, a.ticket AS Ticket, a.maker_id AS MakerId, a.maker_name AS MakerName, a.created_at AS CreatedAt,
               s.status AS Status, s.at AS StatusAt, s.actor_name AS StatusBy, s.reason AS StatusReason,
               coalesce(ap.before, a.before)::text AS Before, coalesce(ap.after, a.after)::text AS After,
               a.reverses_id AS ReversesId, r.id AS ReversedById, a.batch_id AS BatchId
        FROM ops.credit_adjustments AS a
        JOIN workspaces AS w ON w.id = a.workspace_id
        CROSS JOIN LATERAL (
            SELECT e.status, e.at, e.actor_name, e.reason
            FROM ops.credit_adjustment_events AS e WHERE e.adjustment_id = a.id ORDER BY e.id DESC LIMIT 1) AS s
        LEFT JOIN ops.credit_adjustment_events AS ap ON ap.adjustment_id = a.id AND ap.status = 'applied'
        LEFT JOIN LATERAL (
            SELECT x.id FROM ops.credit_adjustments AS x
            JOIN ops.credit_adjustment_events AS xe ON xe.adjustment_id = x.id AND xe.status = 'applied'
            WHERE x.reverses_id = a.id LIMIT 1) AS r ON true
        WHERE (@WorkspaceId::uuid IS NULL OR a.workspace_id = @WorkspaceId)
          AND (@Status::text IS NULL OR s.status = @Status)
          AND (@Id::bigint IS NULL OR a.id = @Id)
        ORDER BY a.id DESC
        LIMIT 1000
        """;

    private const string StatusSql = """
        SELECT status FROM ops.credit_adjustment_events WHERE adjustment_id = @Id ORDER BY id DESC LIMIT 1
        """;

    private const string PendingReversalSql = """
        SELECT a.id FROM ops.credit_adjustments AS a
        WHERE a.reverses_id = @Id
          AND (SELECT e.status FROM ops.credit_adjustment_events AS e WHERE e.adjustment_id = a.id ORDER BY e.id DESC LIMIT 1) = 'pending_approval'
        LIMIT 1
        """;

    private const string InsertAdjustmentSql = """
        INSERT INTO ops.credit_adjustments (workspace_id, balance_delta, total_purchased_delta, total_earned_delta, total_used_delta,
                                            reason, ticket, maker_id, maker_name, seen_version, before, after, reverses_id, batch_id)
        VALUES (@WorkspaceId, @Balance, @TotalPurchased, @TotalEarned, @TotalUsed, @Reason, @Ticket, @MakerId, @MakerName, @SeenVersion,
                @Before::jsonb, @After::jsonb, @ReversesId, @BatchId)
        RETURNING id
        """;

    private const string InsertEventSql = """
        INSERT INTO ops.credit_adjustment_events (adjustment_id, workspace_id, status, actor_id, actor_name, reason, before, after)
        VALUES (@AdjustmentId, @WorkspaceId, @Status, @ActorId, @ActorName, @Reason, @Before::jsonb, @After::jsonb)
        """;

    private const string ApplyDeltasSql = """
        UPDATE workspace_credits
        SET balance = balance + @Balance, total_purchased = total_purchased + @TotalPurchased,
            total_earned = total_earned + @TotalEarned, total_used = total_used + @TotalUsed, updated_at = now()
        WHERE workspace_id = @Id
        RETURNING balance AS Balance, total_purchased AS TotalPurchased, total_earned AS TotalEarned, total_used AS TotalUsed
        """;

    private sealed class HistoryRow
    {
        public DateTimeOffset At { get; init; }
        public string Kind { get; init; } = "";
        public string Reference { get; init; } = "";
        public string Description { get; init; } = "";
        public decimal Effect { get; init; }
        public decimal BalanceAfter { get; init; }
        public int Total { get; init; }
    }

    private sealed class JournalRow
    {
        public long Id { get; init; }
        public Guid WorkspaceId { get; init; }
        public string WorkspaceName { get; init; } = "";
        public decimal BalanceDelta { get; init; }
        public decimal TotalPurchasedDelta { get; init; }
        public decimal TotalEarnedDelta { get; init; }
        public decimal TotalUsedDelta { get; init; }
        public string Reason { get; init; } = "";
        public string? Ticket { get; init; }
        public string MakerId { get; init; } = "";
        public string MakerName { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
        public string Status { get; init; } = "";
        public DateTimeOffset StatusAt { get; init; }
        public string StatusBy { get; init; } = "";
        public string? StatusReason { get; init; }
        public string Before { get; init; } = "";
        public string After { get; init; } = "";
        public long? ReversesId { get; init; }
        public long? ReversedById { get; init; }
        public Guid? BatchId { get; init; }

        public CreditAdjustment ToAdjustment() => new(
            Id, WorkspaceId, WorkspaceName, new CreditDeltas(BalanceDelta, TotalPurchasedDelta, TotalEarnedDelta, TotalUsedDelta),
            Reason, Ticket, MakerId, MakerName, CreatedAt, Status, StatusAt, StatusBy, StatusReason,
            JsonSerializer.Deserialize<CreditValues>(Before, Json)!, JsonSerializer.Deserialize<CreditValues>(After, Json)!,
            ReversesId, ReversedById, BatchId);
    }
}
