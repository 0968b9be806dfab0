using System.Data;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Database;

namespace OpsConsole.Core.Deployments;

/// <summary>
/// The deployment checklist: runs started from runbook templates, items, contacts, read-only checks,
/// four-eyes signatures, notes and the timeline. Every method takes the acting user with their permissions and
/// checks them here, on the server; every change is one transaction holding the change and its timeline event,
/// and a refused change leaves nothing behind.
/// </summary>
public interface IDeploymentService
{
    /// <summary>The runbooks a run can start from (those with problems too, so the page can say why).</summary>
    IReadOnlyList<RunbookTemplate> Templates(OpsActor actor);

    /// <summary>The runs, newest first.</summary>
    Task<OpsResult<IReadOnlyList<DeploymentRunSummary>>> ListRunsAsync(OpsActor actor, CancellationToken cancellationToken);

    /// <summary>One run with everything about it.</summary>
    Task<OpsResult<DeploymentRun>> GetRunAsync(OpsActor actor, long runId, CancellationToken cancellationToken);

    /// <summary>Starts a run from the current version of template <paramref name="templateSlug"/>; returns its id.</summary>
    Task<OpsResult<long>> StartRunAsync(OpsActor actor, string templateSlug, string? title, CancellationToken cancellationToken);

    /// <summary>
    /// Sets one item. N/A needs a reason, and so does ticking an item whose section's check failed on its latest run
    /// (the reason is kept with the tick and on the timeline). <paramref name="expectedVersion"/> is the item's version the actor saw
    /// (0 for never touched); when it changed meanwhile the request is refused as stale. Null skips that check.
    /// </summary>
    Task<OpsResult> SetItemAsync(
        OpsActor actor, long runId, string itemKey, ItemState state, string? reason, int? expectedVersion, CancellationToken cancellationToken);

    /// <summary>Sets one contact field of the run's header.</summary>
    Task<OpsResult> SetContactAsync(OpsActor actor, long runId, string fieldKey, string value, CancellationToken cancellationToken);

    /// <summary>Runs the run's probes (all, or the one named) read-only and stores the results as evidence.</summary>
    Task<OpsResult<IReadOnlyList<ProbeExecution>>> RunProbesAsync(OpsActor actor, long runId, string? probeKey, CancellationToken cancellationToken);

    /// <summary>Signs the run as <paramref name="kind"/>, as the acting user, if the rules allow it.</summary>
    Task<OpsResult> SignAsync(OpsActor actor, long runId, SignOffKind kind, CancellationToken cancellationToken);

    /// <summary>
    /// Signs the run as <paramref name="kind"/> with a reason on the timeline. A rollback of a run nobody signed as
    /// deployed needs one (see <see cref="SignOffRules.RollbackNeedsReason"/>).
    /// </summary>
    Task<OpsResult> SignAsync(OpsActor actor, long runId, SignOffKind kind, string? reason, CancellationToken cancellationToken);

    /// <summary>Appends a note (also on a closed run).</summary>
    Task<OpsResult> AddNoteAsync(OpsActor actor, long runId, string body, CancellationToken cancellationToken);

    /// <summary>The signed record as Markdown.</summary>
    Task<OpsResult<string>> ExportRecordAsync(OpsActor actor, long runId, CancellationToken cancellationToken);

    /// <summary>The timeline as CSV.</summary>
    Task<OpsResult<string>> ExportTimelineAsync(OpsActor actor, long runId, CancellationToken cancellationToken);

    /// <summary>One timeline event (who did what), for live updates; null when unknown.</summary>
    Task<TimelineEvent?> GetEventAsync(OpsActor actor, long eventId, CancellationToken cancellationToken);
}

/// <inheritdoc />
internal sealed class DeploymentService(
    NpgsqlDataSource dataSource, OpsTransactions transactions, RunbookCatalog catalog, DeploymentStore store, ProbeRunner probes) : IDeploymentService
{
    private const int MaxReasonLength = 1000;
    private const int MaxContactLength = 200;
    private const int MaxNoteLength = 4000;
    private const int MaxTitleLength = 200;

    public IReadOnlyList<RunbookTemplate> Templates(OpsActor actor) => actor.Can(OpsPermissions.View) ? catalog.List() : [];

    public async Task<OpsResult<IReadOnlyList<DeploymentRunSummary>>> ListRunsAsync(OpsActor actor, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return OpsResult<IReadOnlyList<DeploymentRunSummary>>.Success(await store.ListAsync(connection, 200, cancellationToken));
    }

    public async Task<OpsResult<DeploymentRun>> GetRunAsync(OpsActor actor, long runId, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        // One snapshot, so the items, evidence and timeline shown belong together.
        return await transactions.RunAsync<DeploymentRun>(
            async tx => await store.LoadAsync(tx, runId, DeploymentStore.RunLock.None, withTimeline: true) is { } run ? run : RunNotFound(runId),
            cancellationToken, IsolationLevel.RepeatableRead);
    }

    public async Task<OpsResult<long>> StartRunAsync(OpsActor actor, string templateSlug, string? title, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.SignOffDeployments) is { } refusal)
        {
            return refusal;
        }

        var template = catalog.Find(templateSlug ?? "");
        if (template is null)
        {
            return Refusal.NotFound($"There is no runbook named '{templateSlug}'.");
        }

        if (template.Runbook is not { } runbook)
        {
            return Refusal.Invalid($"Runbook '{template.Slug}' cannot be used: {string.Join(" ", template.Problems)}");
        }

        var name = string.IsNullOrWhiteSpace(title) ? runbook.Title : title.Trim();
        if (name.Length > MaxTitleLength)
        {
            return Refusal.Invalid($"A title has at most {MaxTitleLength} characters.");
        }

        return await transactions.RunAsync<long>(async tx =>
        {
            var runId = await store.InsertRunAsync(tx, runbook, name, actor);
            await store.InsertEventAsync(tx, runId, actor, "run.started", runbook.Slug,
                $"{actor.DisplayName} started the run from {runbook.Slug} (version {runbook.VersionHash[..12]}).",
                null, new { status = DeploymentStatus.Incomplete.ToText(), template = runbook.Slug, version = runbook.VersionHash, title = name });
            return runId;
        }, cancellationToken);
    }

    public async Task<OpsResult> SetItemAsync(
        OpsActor actor, long runId, string itemKey, ItemState state, string? reason, int? expectedVersion, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.SignOffDeployments) is { } refusal)
        {
            return refusal;
        }

        var trimmedReason = state == ItemState.Unchecked || string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
        if (state == ItemState.NotApplicable && string.IsNullOrEmpty(trimmedReason))
        {
            return Refusal.Invalid("N/A needs a reason: say why this item does not apply.");
        }

        if (trimmedReason?.Length > MaxReasonLength)
        {
            return Refusal.Invalid($"A reason has at most {MaxReasonLength} characters.");
        }

        if (!Enum.IsDefined(state))
        {
            return Refusal.Invalid($"Unknown item state {state}.");
        }

        return await OnOpenRunAsync(runId, async (tx, run) =>
        {
            var item = run.Runbook.FindItem(itemKey ?? "");
            if (item is null)
            {
                return Refusal.NotFound($"This run's runbook has no item '{itemKey}'.");
            }

            if (state == ItemState.Checked && trimmedReason is null && SignOffRules.FailingChecksOf(run, item) is [var failing, ..])
            {
                return Refusal.Rule(
                    $"The check \"{failing.Probe.Title}\" in this section failed on its latest run ({failing.Result.Message}). "
                    + $"Ticking \"{item.Text}\" over it needs a reason, kept with the tick and on the timeline.");
            }

            var current = await store.LockItemAsync(tx, runId, item.Key);
            var currentVersion = current?.Version ?? 0;
            if (expectedVersion is { } seen && seen != currentVersion)
            {
                return Refusal.Conflict(
                    $"{current?.UpdatedBy ?? "Someone"} changed \"{item.Text}\" to {Describe(current?.State ?? ItemState.Unchecked)} at {current?.UpdatedAt:u}; "
                    + "the page now shows their change.");
            }

            var before = current?.State ?? ItemState.Unchecked;
            if (before == state && current?.Reason == trimmedReason)
            {
                return OpsResult.Ok;
            }

            await store.UpsertItemAsync(tx, runId, item.Key, state, trimmedReason, actor);
            var action = state switch
            {
                ItemState.Checked => "item.checked",
                ItemState.NotApplicable => "item.na",
                _ => "item.unchecked",
            };
            await store.InsertEventAsync(tx, runId, actor, action, item.Key,
                $"{actor.DisplayName} marked \"{item.Text}\" {Describe(state)}" + (trimmedReason is null ? "." : $": {trimmedReason}"),
                new { state = before.ToSql(), reason = current?.Reason }, new { state = state.ToSql(), reason = trimmedReason });
            return OpsResult.Ok;
        }, cancellationToken);
    }

    public async Task<OpsResult> SetContactAsync(OpsActor actor, long runId, string fieldKey, string value, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.SignOffDeployments) is { } refusal)
        {
            return refusal;
        }

        var trimmed = (value ?? "").Trim();
        if (trimmed.Length > MaxContactLength)
        {
            return Refusal.Invalid($"A contact has at most {MaxContactLength} characters.");
        }

        return await OnOpenRunAsync(runId, async (tx, run) =>
        {
            var field = run.Runbook.FindContactField(fieldKey ?? "");
            if (field is null)
            {
                return Refusal.NotFound($"This run's runbook has no contact field '{fieldKey}'.");
            }

            var before = run.ContactOf(field);
            if (before == trimmed)
            {
                return OpsResult.Ok;
            }

            await store.UpsertContactAsync(tx, runId, field.Key, trimmed, actor);
            await store.InsertEventAsync(tx, runId, actor, "contact.updated", field.Key,
                $"{actor.DisplayName} set {field.Label} to \"{trimmed}\".", new { value = before }, new { value = trimmed });
            return OpsResult.Ok;
        }, cancellationToken);
    }

    public async Task<OpsResult<IReadOnlyList<ProbeExecution>>> RunProbesAsync(OpsActor actor, long runId, string? probeKey, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.SignOffDeployments) is { } refusal)
        {
            return refusal;
        }

        // Checked before the probes run (so a closed run costs no queries) and again when the evidence is written.
        var loaded = await GetRunAsync(actor, runId, cancellationToken);
        if (loaded.Refusal is { } notFound)
        {
            return notFound;
        }

        if (SignOffRules.ReadOnlyRefusal(loaded.Value) is { } readOnly)
        {
            return readOnly;
        }

        var selected = probeKey is null
            ? loaded.Value.Runbook.Probes
            : loaded.Value.Runbook.FindProbe(probeKey) is { } one ? [one] : [];
        if (selected.Count == 0)
        {
            return Refusal.NotFound(probeKey is null ? "This run's runbook has no checks." : $"This run's runbook has no check '{probeKey}'.");
        }

        var executions = new List<ProbeExecution>();
        foreach (var probe in selected)
        {
            executions.Add(await probes.RunAsync(probe, cancellationToken));
        }

        return await transactions.RunAsync<IReadOnlyList<ProbeExecution>>(async tx =>
        {
            if ((await OpenRunAsync(tx, runId)).Refusal is { } closed)
            {
                return closed;
            }

            var batch = Guid.NewGuid();
            foreach (var execution in executions)
            {
                await store.InsertProbeResultAsync(tx, runId, batch, execution, actor);
            }

            var passed = executions.Where(e => e.Verdict.Passed).Select(e => e.ProbeKey).ToArray();
            var failed = executions.Where(e => !e.Verdict.Passed).Select(e => e.ProbeKey).ToArray();
            await store.InsertEventAsync(tx, runId, actor, "probes.run", probeKey,
                $"{actor.DisplayName} ran {Count(executions.Count, "check")}: {passed.Length} passed, {failed.Length} failed.",
                null, new { batch, passed, failed });
            return executions;
        }, cancellationToken);
    }

    public Task<OpsResult> SignAsync(OpsActor actor, long runId, SignOffKind kind, CancellationToken cancellationToken) =>
        SignAsync(actor, runId, kind, null, cancellationToken);

    public async Task<OpsResult> SignAsync(OpsActor actor, long runId, SignOffKind kind, string? reason, CancellationToken cancellationToken)
    {
        var trimmedReason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
        if (trimmedReason?.Length > MaxReasonLength)
        {
            return Refusal.Invalid($"A reason has at most {MaxReasonLength} characters.");
        }

        if (!Enum.IsDefined(kind))
        {
            return Refusal.Invalid($"Unknown signature {kind}.");
        }

        if (actor.Lacks(SignOffRules.PermissionFor(kind)) is { } refusal)
        {
            return refusal;
        }

        return await transactions.RunAsync(async tx =>
        {
            // FOR UPDATE: waits for item and evidence writes in flight (they hold FOR SHARE) and judges the run as they left it.
            var run = await store.LoadAsync(tx, runId, DeploymentStore.RunLock.Update, withTimeline: false);
            if (run is null)
            {
                return RunNotFound(runId);
            }

            if (SignOffRules.Check(run, actor, kind, trimmedReason) is { } broken)
            {
                return broken;
            }

            await store.SignAsync(tx, runId, kind, actor);
            var statusAfter = kind switch
            {
                SignOffKind.Approved => DeploymentStatus.Complete,
                SignOffKind.RolledBack => DeploymentStatus.RolledBack,
                _ => run.Status,
            };
            var summary = kind switch
            {
                SignOffKind.Approved => $"{actor.DisplayName} approved the run: COMPLETE.",
                SignOffKind.RolledBack => $"{actor.DisplayName} signed the rollback: ROLLED BACK.",
                _ => $"{actor.DisplayName} signed as {kind.Label().ToLowerInvariant()}.",
            } + (trimmedReason is null ? "" : $" Reason: {trimmedReason}");
            await store.InsertEventAsync(tx, runId, actor, "signoff." + kind.ToString().ToLowerInvariant(), null, summary,
                new { status = run.Status.ToText() }, new { status = statusAfter.ToText(), signed = kind.Label(), by = actor.DisplayName, reason = trimmedReason });
            return OpsResult.Ok;
        }, cancellationToken);
    }

    public async Task<OpsResult> AddNoteAsync(OpsActor actor, long runId, string body, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        var text = (body ?? "").Trim();
        if (text.Length == 0)
        {
            return Refusal.Invalid("A note needs some text.");
        }

        if (text.Length > MaxNoteLength)
        {
            return Refusal.Invalid($"A note has at most {MaxNoteLength} characters.");
        }

        return await transactions.RunAsync(async tx =>
        {
            // Notes are taken on closed runs too: only the lock, not the read-only rule.
            if (await store.LoadAsync(tx, runId, DeploymentStore.RunLock.Share, withTimeline: false) is null)
            {
                return RunNotFound(runId);
            }

            var noteId = await store.InsertNoteAsync(tx, runId, actor, text);
            await store.InsertEventAsync(tx, runId, actor, "note.added", null, $"{actor.DisplayName} added a note.", null, new { note = noteId, text });
            return OpsResult.Ok;
        }, cancellationToken);
    }

    public async Task<OpsResult<string>> ExportRecordAsync(OpsActor actor, long runId, CancellationToken cancellationToken)
    {
        var run = await GetRunAsync(actor, runId, cancellationToken);
        return run.Refusal is { } refusal ? refusal : DeploymentExport.ToMarkdown(run.Value);
    }

    public async Task<OpsResult<string>> ExportTimelineAsync(OpsActor actor, long runId, CancellationToken cancellationToken)
    {
        var run = await GetRunAsync(actor, runId, cancellationToken);
        return run.Refusal is { } refusal ? refusal : DeploymentExport.ToTimelineCsv(run.Value);
    }

    public async Task<TimelineEvent?> GetEventAsync(OpsActor actor, long eventId, CancellationToken cancellationToken)
    {
        if (!actor.Can(OpsPermissions.View))
        {
            return null;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await store.EventAsync(connection, eventId, cancellationToken);
    }

    // Locks the run FOR SHARE and refuses when it is missing or closed.
    private async Task<OpsResult<DeploymentRun>> OpenRunAsync(OpsTransaction tx, long runId)
    {
        var run = await store.LoadAsync(tx, runId, DeploymentStore.RunLock.Share, withTimeline: false);
        if (run is null)
        {
            return RunNotFound(runId);
        }

        return SignOffRules.ReadOnlyRefusal(run) is { } readOnly ? readOnly : run;
    }

    // One transaction on an open run: the run locked FOR SHARE, refused when missing or closed, then the work.
    private Task<OpsResult> OnOpenRunAsync(long runId, Func<OpsTransaction, DeploymentRun, Task<OpsResult>> work, CancellationToken cancellationToken) =>
        transactions.RunAsync(async tx =>
        {
            var open = await OpenRunAsync(tx, runId);
            return open.Succeeded ? await work(tx, open.Value) : open;
        }, cancellationToken);

    private static Refusal RunNotFound(long runId) => Refusal.NotFound($"There is no deployment run {runId}.");

    private static string Describe(ItemState state) => state switch
    {
        ItemState.Checked => "checked",
        ItemState.NotApplicable => "N/A",
        _ => "unchecked",
    };

    private static string Count(int n, string what) => n == 1 ? $"1 {what}" : $"{n} {what}s";
}
