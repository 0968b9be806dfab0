using Npgsql;

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
    IReadOnlyList<RunbookTemplate> Templates(DeploymentActor actor);

    /// <summary>The runs, newest first.</summary>
    Task<DeploymentResult<IReadOnlyList<DeploymentRunSummary>>> ListRunsAsync(DeploymentActor actor, CancellationToken cancellationToken);

    /// <summary>One run with everything about it.</summary>
    Task<DeploymentResult<DeploymentRun>> GetRunAsync(DeploymentActor actor, long runId, CancellationToken cancellationToken);

    /// <summary>Starts a run from the current version of template <paramref name="templateSlug"/>; returns its id.</summary>
    Task<DeploymentResult<long>> StartRunAsync(DeploymentActor actor, string templateSlug, string? title, CancellationToken cancellationToken);

    /// <summary>
    /// Sets one item. N/A needs a reason. <paramref name="expectedVersion"/> is the item's version the actor saw
    /// (0 for never touched); when it changed meanwhile the request is refused as stale. Null skips that check.
    /// </summary>
    Task<DeploymentResult> SetItemAsync(
        DeploymentActor actor, long runId, string itemKey, ItemState state, string? reason, int? expectedVersion, CancellationToken cancellationToken);

    /// <summary>Sets one contact field of the run's header.</summary>
    Task<DeploymentResult> SetContactAsync(DeploymentActor actor, long runId, string fieldKey, string value, CancellationToken cancellationToken);

    /// <summary>Runs the run's probes (all, or the one named) read-only and stores the results as evidence.</summary>
    Task<DeploymentResult<IReadOnlyList<ProbeExecution>>> RunProbesAsync(DeploymentActor actor, long runId, string? probeKey, CancellationToken cancellationToken);

    /// <summary>Signs the run as <paramref name="kind"/>, as the acting user, if the rules allow it.</summary>
    Task<DeploymentResult> SignAsync(DeploymentActor actor, long runId, SignOffKind kind, CancellationToken cancellationToken);

    /// <summary>Appends a note (also on a closed run).</summary>
    Task<DeploymentResult> AddNoteAsync(DeploymentActor actor, long runId, string body, CancellationToken cancellationToken);

    /// <summary>The signed record as Markdown.</summary>
    Task<DeploymentResult<string>> ExportRecordAsync(DeploymentActor actor, long runId, CancellationToken cancellationToken);

    /// <summary>The timeline as CSV.</summary>
    Task<DeploymentResult<string>> ExportTimelineAsync(DeploymentActor actor, long runId, CancellationToken cancellationToken);

    /// <summary>One timeline event (who did what), for live updates; null when unknown.</summary>
    Task<TimelineEvent?> GetEventAsync(DeploymentActor actor, long eventId, CancellationToken cancellationToken);
}

/// <inheritdoc />
internal sealed class DeploymentService(
    NpgsqlDataSource dataSource, RunbookCatalog catalog, DeploymentStore store, ProbeRunner probes) : IDeploymentService
{
    private const int MaxReasonLength = 1000;
    private const int MaxContactLength = 200;
    private const int MaxNoteLength = 4000;
    private const int MaxTitleLength = 200;

    public IReadOnlyList<RunbookTemplate> Templates(DeploymentActor actor) => actor.Can(DeploymentPermissions.View) ? catalog.List() : [];

    public async Task<DeploymentResult<IReadOnlyList<DeploymentRunSummary>>> ListRunsAsync(DeploymentActor actor, CancellationToken cancellationToken)
    {
        if (Denied(actor, DeploymentPermissions.View, "view deployments") is { } denied)
        {
            return DeploymentResult<IReadOnlyList<DeploymentRunSummary>>.From(denied);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return DeploymentResult<IReadOnlyList<DeploymentRunSummary>>.Success(await store.ListAsync(connection, 200, cancellationToken));
    }

    public async Task<DeploymentResult<DeploymentRun>> GetRunAsync(DeploymentActor actor, long runId, CancellationToken cancellationToken)
    {
        if (Denied(actor, DeploymentPermissions.View, "view deployments") is { } denied)
        {
            return DeploymentResult<DeploymentRun>.From(denied);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot, so the items, evidence and timeline shown belong together.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var run = await store.LoadAsync(connection, transaction, runId, DeploymentStore.RunLock.None, withTimeline: true, cancellationToken);
        return run is null ? DeploymentResult<DeploymentRun>.From(RunNotFound(runId)) : DeploymentResult<DeploymentRun>.Success(run);
    }

    public async Task<DeploymentResult<long>> StartRunAsync(DeploymentActor actor, string templateSlug, string? title, CancellationToken cancellationToken)
    {
        if (Denied(actor, DeploymentPermissions.SignOff, "start deployments") is { } denied)
        {
            return DeploymentResult<long>.From(denied);
        }

        var template = catalog.Find(templateSlug ?? "");
        if (template is null)
        {
            return DeploymentResult<long>.From(new(RefusalReason.NotFound, $"There is no runbook named '{templateSlug}'."));
        }

        if (template.Runbook is not { } runbook)
        {
            return DeploymentResult<long>.From(new(RefusalReason.InvalidInput,
                $"Runbook '{template.Slug}' cannot be used: {string.Join(" ", template.Problems)}"));
        }

        var name = string.IsNullOrWhiteSpace(title) ? runbook.Title : title.Trim();
        if (name.Length > MaxTitleLength)
        {
            return DeploymentResult<long>.From(new(RefusalReason.InvalidInput, $"A title has at most {MaxTitleLength} characters."));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var runId = await store.InsertRunAsync(connection, transaction, runbook, name, actor.UserName, cancellationToken);
        await store.InsertEventAsync(connection, transaction, runId, actor.UserName, "run.started", runbook.Slug,
            $"{actor.UserName} started the run from {runbook.Slug} (version {runbook.VersionHash[..12]}).",
            null, new { status = DeploymentStatus.Incomplete.ToText(), template = runbook.Slug, version = runbook.VersionHash, title = name }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return DeploymentResult<long>.Success(runId);
    }

    public async Task<DeploymentResult> SetItemAsync(
        DeploymentActor actor, long runId, string itemKey, ItemState state, string? reason, int? expectedVersion, CancellationToken cancellationToken)
    {
        if (Denied(actor, DeploymentPermissions.SignOff, "tick deployment items") is { } denied)
        {
            return new(denied);
        }

        var trimmedReason = state == ItemState.NotApplicable ? reason?.Trim() : null;
        if (state == ItemState.NotApplicable && string.IsNullOrEmpty(trimmedReason))
        {
            return DeploymentResult.Refused(RefusalReason.InvalidInput, "N/A needs a reason: say why this item does not apply.");
        }

        if (trimmedReason?.Length > MaxReasonLength)
        {
            return DeploymentResult.Refused(RefusalReason.InvalidInput, $"A reason has at most {MaxReasonLength} characters.");
        }

        if (!Enum.IsDefined(state))
        {
            return DeploymentResult.Refused(RefusalReason.InvalidInput, $"Unknown item state {state}.");
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var (run, refusal) = await OpenRunAsync(connection, transaction, runId, cancellationToken);
        if (refusal is not null)
        {
            return new(refusal);
        }

        var item = run!.Runbook.FindItem(itemKey ?? "");
        if (item is null)
        {
            return DeploymentResult.Refused(RefusalReason.NotFound, $"This run's runbook has no item '{itemKey}'.");
        }

        var current = await store.LockItemAsync(connection, transaction, runId, item.Key, cancellationToken);
        var currentVersion = current?.Version ?? 0;
        if (expectedVersion is { } seen && seen != currentVersion)
        {
            return DeploymentResult.Refused(RefusalReason.Stale,
                $"{current?.UpdatedBy ?? "Someone"} changed \"{item.Text}\" to {Describe(current?.State ?? ItemState.Unchecked)} at {current?.UpdatedAt:u}; "
                + "the page now shows their change.");
        }

        var before = current?.State ?? ItemState.Unchecked;
        if (before == state && current?.Reason == trimmedReason)
        {
            return DeploymentResult.Ok;
        }

        await store.UpsertItemAsync(connection, transaction, runId, item.Key, state, trimmedReason, actor.UserName, cancellationToken);
        var action = state switch
        {
            ItemState.Checked => "item.checked",
            ItemState.NotApplicable => "item.na",
            _ => "item.unchecked",
        };
        await store.InsertEventAsync(connection, transaction, runId, actor.UserName, action, item.Key,
            $"{actor.UserName} marked \"{item.Text}\" {Describe(state)}" + (trimmedReason is null ? "." : $": {trimmedReason}"),
            new { state = before.ToSql(), reason = current?.Reason }, new { state = state.ToSql(), reason = trimmedReason }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return DeploymentResult.Ok;
    }

    public async Task<DeploymentResult> SetContactAsync(DeploymentActor actor, long runId, string fieldKey, string value, CancellationToken cancellationToken)
    {
        if (Denied(actor, DeploymentPermissions.SignOff, "edit deployment contacts") is { } denied)
        {
            return new(denied);
        }

        var trimmed = (value ?? "").Trim();
        if (trimmed.Length > MaxContactLength)
        {
            return DeploymentResult.Refused(RefusalReason.InvalidInput, $"A contact has at most {MaxContactLength} characters.");
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var (run, refusal) = await OpenRunAsync(connection, transaction, runId, cancellationToken);
        if (refusal is not null)
        {
            return new(refusal);
        }

        var field = run!.Runbook.FindContactField(fieldKey ?? "");
        if (field is null)
        {
            return DeploymentResult.Refused(RefusalReason.NotFound, $"This run's runbook has no contact field '{fieldKey}'.");
        }

        var before = run.ContactOf(field);
        if (before == trimmed)
        {
            return DeploymentResult.Ok;
        }

        await store.UpsertContactAsync(connection, transaction, runId, field.Key, trimmed, actor.UserName, cancellationToken);
        await store.InsertEventAsync(connection, transaction, runId, actor.UserName, "contact.updated", field.Key,
            $"{actor.UserName} set {field.Label} to \"{trimmed}\".", new { value = before }, new { value = trimmed }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return DeploymentResult.Ok;
    }

    public async Task<DeploymentResult<IReadOnlyList<ProbeExecution>>> RunProbesAsync(DeploymentActor actor, long runId, string? probeKey, CancellationToken cancellationToken)
    {
        if (Denied(actor, DeploymentPermissions.SignOff, "run deployment checks") is { } denied)
        {
            return DeploymentResult<IReadOnlyList<ProbeExecution>>.From(denied);
        }

        // Checked before the probes run (so a closed run costs no queries) and again when the evidence is written.
        var loaded = await GetRunAsync(actor, runId, cancellationToken);
        if (loaded.Refusal is { } notFound)
        {
            return DeploymentResult<IReadOnlyList<ProbeExecution>>.From(notFound);
        }

        if (SignOffRules.ReadOnlyRefusal(loaded.Value!) is { } readOnly)
        {
            return DeploymentResult<IReadOnlyList<ProbeExecution>>.From(readOnly);
        }

        var selected = probeKey is null
            ? loaded.Value!.Runbook.Probes
            : loaded.Value!.Runbook.FindProbe(probeKey) is { } one ? [one] : [];
        if (selected.Count == 0)
        {
            return DeploymentResult<IReadOnlyList<ProbeExecution>>.From(new(RefusalReason.NotFound,
                probeKey is null ? "This run's runbook has no checks." : $"This run's runbook has no check '{probeKey}'."));
        }

        var executions = new List<ProbeExecution>();
        foreach (var probe in selected)
        {
            executions.Add(await probes.RunAsync(probe, cancellationToken));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var (_, refusal) = await OpenRunAsync(connection, transaction, runId, cancellationToken);
        if (refusal is not null)
        {
            return DeploymentResult<IReadOnlyList<ProbeExecution>>.From(refusal);
        }

        var batch = Guid.NewGuid();
        foreach (var execution in executions)
        {
            await store.InsertProbeResultAsync(connection, transaction, runId, batch, execution, actor.UserName, cancellationToken);
        }

        var passed = executions.Where(e => e.Verdict.Passed).Select(e => e.ProbeKey).ToArray();
        var failed = executions.Where(e => !e.Verdict.Passed).Select(e => e.ProbeKey).ToArray();
        await store.InsertEventAsync(connection, transaction, runId, actor.UserName, "probes.run", probeKey,
            $"{actor.UserName} ran {Count(executions.Count, "check")}: {passed.Length} passed, {failed.Length} failed.",
            null, new { batch, passed, failed }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return DeploymentResult<IReadOnlyList<ProbeExecution>>.Success(executions);
    }

    public async Task<DeploymentResult> SignAsync(DeploymentActor actor, long runId, SignOffKind kind, CancellationToken cancellationToken)
    {
        if (!Enum.IsDefined(kind))
        {
            return DeploymentResult.Refused(RefusalReason.InvalidInput, $"Unknown signature {kind}.");
        }

        if (Denied(actor, kind == SignOffKind.Approved ? DeploymentPermissions.Approve : DeploymentPermissions.SignOff,
                kind == SignOffKind.Approved ? "approve deployments" : "sign off deployments") is { } denied)
        {
            return new(denied);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // FOR UPDATE: waits for item and evidence writes in flight (they hold FOR SHARE) and judges the run as they left it.
        var run = await store.LoadAsync(connection, transaction, runId, DeploymentStore.RunLock.Update, withTimeline: false, cancellationToken);
        if (run is null)
        {
            return new(RunNotFound(runId));
        }

        if (SignOffRules.Check(run, actor, kind) is { } refusal)
        {
            return new(refusal);
        }

        await store.SignAsync(connection, transaction, runId, kind, actor.UserName, cancellationToken);
        var statusAfter = kind switch
        {
            SignOffKind.Approved => DeploymentStatus.Complete,
            SignOffKind.RolledBack => DeploymentStatus.RolledBack,
            _ => run.Status,
        };
        var summary = kind switch
        {
            SignOffKind.Approved => $"{actor.UserName} approved the run: COMPLETE.",
            SignOffKind.RolledBack => $"{actor.UserName} signed the rollback: ROLLED BACK.",
            _ => $"{actor.UserName} signed as {kind.Label().ToLowerInvariant()}.",
        };
        await store.InsertEventAsync(connection, transaction, runId, actor.UserName, "signoff." + kind.ToString().ToLowerInvariant(), null, summary,
            new { status = run.Status.ToText() }, new { status = statusAfter.ToText(), signed = kind.Label(), by = actor.UserName }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return DeploymentResult.Ok;
    }

    public async Task<DeploymentResult> AddNoteAsync(DeploymentActor actor, long runId, string body, CancellationToken cancellationToken)
    {
        if (Denied(actor, DeploymentPermissions.View, "add notes") is { } denied)
        {
            return new(denied);
        }

        var text = (body ?? "").Trim();
        if (text.Length == 0)
        {
            return DeploymentResult.Refused(RefusalReason.InvalidInput, "A note needs some text.");
        }

        if (text.Length > MaxNoteLength)
        {
            return DeploymentResult.Refused(RefusalReason.InvalidInput, $"A note has at most {MaxNoteLength} characters.");
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var run = await store.LoadAsync(connection, transaction, runId, DeploymentStore.RunLock.Share, withTimeline: false, cancellationToken);
        if (run is null)
        {
            return new(RunNotFound(runId));
        }

        var noteId = await store.InsertNoteAsync(connection, transaction, runId, actor.UserName, text, cancellationToken);
        await store.InsertEventAsync(connection, transaction, runId, actor.UserName, "note.added", null,
            $"{actor.UserName} added a note.", null, new { note = noteId, text }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return DeploymentResult.Ok;
    }

    public async Task<DeploymentResult<string>> ExportRecordAsync(DeploymentActor actor, long runId, CancellationToken cancellationToken)
    {
        var run = await GetRunAsync(actor, runId, cancellationToken);
        return run.Refusal is { } refusal ? DeploymentResult<string>.From(refusal) : DeploymentResult<string>.Success(DeploymentExport.ToMarkdown(run.Value!));
    }

    public async Task<DeploymentResult<string>> ExportTimelineAsync(DeploymentActor actor, long runId, CancellationToken cancellationToken)
    {
        var run = await GetRunAsync(actor, runId, cancellationToken);
        return run.Refusal is { } refusal ? DeploymentResult<string>.From(refusal) : DeploymentResult<string>.Success(DeploymentExport.ToTimelineCsv(run.Value!));
    }

    public async Task<TimelineEvent?> GetEventAsync(DeploymentActor actor, long eventId, CancellationToken cancellationToken)
    {
        if (!actor.Can(DeploymentPermissions.View))
        {
            return null;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await store.EventAsync(connection, eventId, cancellationToken);
    }

    // Locks the run FOR SHARE and refuses when it is missing or closed.
    private async Task<(DeploymentRun? Run, DeploymentRefusal? Refusal)> OpenRunAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, long runId, CancellationToken cancellationToken)
    {
        var run = await store.LoadAsync(connection, transaction, runId, DeploymentStore.RunLock.Share, withTimeline: false, cancellationToken);
        if (run is null)
        {
            return (null, RunNotFound(runId));
        }

        return (run, SignOffRules.ReadOnlyRefusal(run));
    }

    private static DeploymentRefusal? Denied(DeploymentActor actor, DeploymentPermissions permission, string what)
    {
        if (actor is null || string.IsNullOrWhiteSpace(actor.UserName))
        {
            return new(RefusalReason.NotAllowed, $"Sign in to {what}.");
        }

        return actor.Can(permission) ? null : new(RefusalReason.NotAllowed, $"{actor.UserName} is not allowed to {what}.");
    }

    private static DeploymentRefusal RunNotFound(long runId) => new(RefusalReason.NotFound, $"There is no deployment run {runId}.");

    private static string Describe(ItemState state) => state switch
    {
        ItemState.Checked => "checked",
        ItemState.NotApplicable => "N/A",
        _ => "unchecked",
    };

    private static string Count(int n, string what) => n == 1 ? $"1 {what}" : $"{n} {what}s";
}
