using System.Globalization;
using System.Text.Json;
using Dapper;
using Npgsql;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Database;

namespace OpsConsole.Core.Deployments;

/// <summary>
/// The SQL of the deployment checklist. Every method that writes works in the caller's <see cref="OpsTransaction"/>,
/// so that the service can lock a run, check its rules and write the change and its timeline event in one
/// transaction. Every name it stores has the actor's stable identity beside it (migration 0021).
/// </summary>
internal sealed class DeploymentStore(RunbookCatalog catalog)
{
    /// <summary>How a run row is locked while a change is checked and written.</summary>
    public enum RunLock
    {
        /// <summary>No lock (reading for display).</summary>
        None,

        /// <summary>FOR SHARE: item, contact, note and evidence writes; they do not block one another, but wait for a signature being written.</summary>
        Share,

        /// <summary>FOR UPDATE: signatures and status changes; they wait for the writes in flight and see them.</summary>
        Update,
    }

    private const string RunSql = """
        SELECT r.id AS Id, r.title AS Title, r.status AS Status, t.slug AS Slug, t.version_hash AS VersionHash,
               r.started_by AS StartedBy, r.started_at AS StartedAt, r.started_by_id AS StartedById,
               r.deployed_by AS DeployedBy, r.deployed_at AS DeployedAt, r.deployed_by_id AS DeployedById,
               r.verified_by AS VerifiedBy, r.verified_at AS VerifiedAt, r.verified_by_id AS VerifiedById,
               r.approved_by AS ApprovedBy, r.approved_at AS ApprovedAt, r.approved_by_id AS ApprovedById,
               r.rolled_back_by AS RolledBackBy, r.rolled_back_at AS RolledBackAt, r.rolled_back_by_id AS RolledBackById
        FROM ops.deployment_runs AS r
        JOIN ops.deployment_templates AS t ON t.id = r.template_id
        WHERE r.id = @Id
        """;

    private const string ItemStatesSql = """
        SELECT item_key AS ItemKey, state AS State, reason AS Reason, version AS Version, updated_by AS UpdatedBy, updated_at AS UpdatedAt
        FROM ops.deployment_item_states WHERE run_id = @Id
        """;

    private const string ContactsSql = """
        SELECT field_key AS FieldKey, value AS Value, updated_by AS UpdatedBy, updated_at AS UpdatedAt
        FROM ops.deployment_contacts WHERE run_id = @Id
        """;

    private const string LatestProbeResultsSql = """
        SELECT DISTINCT ON (probe_key)
               id AS Id, probe_key AS ProbeKey, batch_id AS BatchId, sql AS Sql, passed AS Passed, message AS Message,
               columns::text AS Columns, rows::text AS Rows, row_count AS RowCount, duration_ms AS DurationMs,
               run_by AS RunBy, run_at AS RunAt
        FROM ops.deployment_probe_results
        WHERE run_id = @Id
        ORDER BY probe_key, id DESC
        """;

    private const string NotesSql = """
        SELECT id AS Id, author AS Author, body AS Body, created_at AS At FROM ops.deployment_notes WHERE run_id = @Id ORDER BY id
        """;

    private const string TimelineSql = """
        SELECT id AS Id, at AS At, actor AS Actor, action AS Action, subject AS Subject, summary AS Summary,
               before::text AS Before, after::text AS After, actor_id AS ActorId
        FROM ops.deployment_events
        """;

    /// <summary>Loads a run with everything the page and the rules need; null when there is none.</summary>
    public async Task<DeploymentRun?> LoadAsync(OpsTransaction tx, long runId, RunLock runLock, bool withTimeline)
    {
        var lockClause = runLock switch
        {
            RunLock.Share => " FOR SHARE OF r",
            RunLock.Update => " FOR UPDATE OF r",
            _ => "",
        };
        var run = await tx.QuerySingleOrDefaultAsync<RunRow>(RunSql + lockClause, new { Id = runId });
        if (run is null)
        {
            return null;
        }

        var runbook = await RunbookAsync(tx.Connection, tx.Transaction, run.Slug, run.VersionHash, tx.CancellationToken);
        var args = new { Id = runId };
        var items = await tx.QueryAsync<ItemRow>(ItemStatesSql, args);
        var contacts = await tx.QueryAsync<ContactRow>(ContactsSql, args);
        var probes = await tx.QueryAsync<ProbeRow>(LatestProbeResultsSql, args);
        var notes = await tx.QueryAsync<NoteRow>(NotesSql, args);
        var timeline = withTimeline ? await tx.QueryAsync<EventRow>(TimelineSql + " WHERE run_id = @Id ORDER BY id", args) : [];

        return new DeploymentRun(
            run.Id,
            run.Title,
            runbook,
            DeploymentText.ParseStatus(run.Status),
            new Signature(run.StartedBy, DeploymentRows.Utc(run.StartedAt), run.StartedById),
            SignatureOf(run.DeployedBy, run.DeployedAt, run.DeployedById),
            SignatureOf(run.VerifiedBy, run.VerifiedAt, run.VerifiedById),
            SignatureOf(run.ApprovedBy, run.ApprovedAt, run.ApprovedById),
            SignatureOf(run.RolledBackBy, run.RolledBackAt, run.RolledBackById),
            items.ToDictionary(i => i.ItemKey, i => i.ToStatus()),
            contacts.ToDictionary(c => c.FieldKey, c => new ContactValue(c.FieldKey, c.Value, c.UpdatedBy, DeploymentRows.Utc(c.UpdatedAt))),
            probes.ToDictionary(p => p.ProbeKey, p => p.ToResult()),
            [.. notes.Select(n => new DeploymentNote(n.Id, n.Author, n.Body, DeploymentRows.Utc(n.At)))],
            [.. timeline.Select(e => e.ToEvent())]);
    }

    /// <summary>The runs, newest first, with their progress.</summary>
    public async Task<IReadOnlyList<DeploymentRunSummary>> ListAsync(NpgsqlConnection connection, int limit, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT r.id AS Id, r.title AS Title, t.slug AS Slug, t.version_hash AS VersionHash, r.status AS Status,
                   r.started_by AS StartedBy, r.started_at AS StartedAt,
                   (SELECT count(*) FROM ops.deployment_item_states s WHERE s.run_id = r.id AND s.state <> 'unchecked')::int AS ItemsDone,
                   (SELECT count(*) FROM (SELECT DISTINCT ON (probe_key) passed FROM ops.deployment_probe_results p
                                          WHERE p.run_id = r.id ORDER BY probe_key, id DESC) AS latest
                    WHERE latest.passed)::int AS ProbesPassing
            FROM ops.deployment_runs AS r
            JOIN ops.deployment_templates AS t ON t.id = r.template_id
            ORDER BY r.id DESC
            LIMIT @Limit
            """;
        var rows = await connection.QueryAsync<SummaryRow>(Command(sql, new { Limit = limit }, null, cancellationToken));
        var result = new List<DeploymentRunSummary>();
        foreach (var row in rows)
        {
            var runbook = await RunbookAsync(connection, null, row.Slug, row.VersionHash, cancellationToken);
            result.Add(new DeploymentRunSummary(row.Id, row.Title, row.Slug, DeploymentText.ParseStatus(row.Status), row.StartedBy, DeploymentRows.Utc(row.StartedAt),
                row.ItemsDone, runbook.Items.Count, row.ProbesPassing, runbook.Probes.Count));
        }

        return result;
    }

    /// <summary>Stores the template version (once) and a new run on it; returns the run's id.</summary>
    public async Task<long> InsertRunAsync(OpsTransaction tx, Runbook runbook, string title, OpsActor startedBy)
    {
        const string templateSql = """
            INSERT INTO ops.deployment_templates (slug, version_hash, title, markdown)
            VALUES (@Slug, @VersionHash, @Title, @Markdown)
            ON CONFLICT (slug, version_hash) DO UPDATE SET slug = EXCLUDED.slug
            RETURNING id
            """;
        const string runSql = """
            INSERT INTO ops.deployment_runs (template_id, title, started_by, started_by_id)
            VALUES (@TemplateId, @Title, @ActorName, @ActorId)
            RETURNING id
            """;
        var templateId = await tx.QuerySingleAsync<long>(templateSql, new { runbook.Slug, runbook.VersionHash, runbook.Title, runbook.Markdown });
        return await tx.QuerySingleAsync<long>(runSql, new { TemplateId = templateId, Title = title, ActorName = startedBy.DisplayName, ActorId = startedBy.Id });
    }

    /// <summary>Writes one item's state, raising its version.</summary>
    public Task UpsertItemAsync(OpsTransaction tx, long runId, string itemKey, ItemState state, string? reason, OpsActor actor)
    {
        const string sql = """
            INSERT INTO ops.deployment_item_states (run_id, item_key, state, reason, updated_by, updated_by_id)
            VALUES (@RunId, @ItemKey, @State, @Reason, @ActorName, @ActorId)
            ON CONFLICT (run_id, item_key) DO UPDATE
               SET state = EXCLUDED.state, reason = EXCLUDED.reason, updated_by = EXCLUDED.updated_by, updated_by_id = EXCLUDED.updated_by_id,
                   updated_at = now(), version = ops.deployment_item_states.version + 1
            """;
        return tx.ExecuteAsync(sql, new { RunId = runId, ItemKey = itemKey, State = state.ToSql(), Reason = reason, ActorName = actor.DisplayName, ActorId = actor.Id });
    }

    /// <summary>Locks and reads one item's stored state (null when never touched).</summary>
    public async Task<ItemStatus?> LockItemAsync(OpsTransaction tx, long runId, string itemKey)
    {
        // The row lock alone would not serialise two first ticks of an item (no row yet to lock), so both
        // would pass the version check; a transaction-scoped advisory lock per item does.
        await tx.ExecuteAsync(
            "SELECT pg_advisory_xact_lock(hashtextextended('ops.deployment_item:' || @Id || ':' || @ItemKey, 0))",
            new { Id = runId, ItemKey = itemKey });
        var row = await tx.QuerySingleOrDefaultAsync<ItemRow>(ItemStatesSql + " AND item_key = @ItemKey FOR UPDATE", new { Id = runId, ItemKey = itemKey });
        return row?.ToStatus();
    }

    /// <summary>Writes one contact field.</summary>
    public Task UpsertContactAsync(OpsTransaction tx, long runId, string fieldKey, string value, OpsActor actor)
    {
        const string sql = """
            INSERT INTO ops.deployment_contacts (run_id, field_key, value, updated_by, updated_by_id)
            VALUES (@RunId, @FieldKey, @Value, @ActorName, @ActorId)
            ON CONFLICT (run_id, field_key) DO UPDATE
               SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_by_id = EXCLUDED.updated_by_id, updated_at = now()
            """;
        return tx.ExecuteAsync(sql, new { RunId = runId, FieldKey = fieldKey, Value = value, ActorName = actor.DisplayName, ActorId = actor.Id });
    }

    /// <summary>Appends a note; returns its id.</summary>
    public Task<long> InsertNoteAsync(OpsTransaction tx, long runId, OpsActor author, string body) =>
        tx.QuerySingleAsync<long>(
            "INSERT INTO ops.deployment_notes (run_id, author, author_id, body) VALUES (@RunId, @ActorName, @ActorId, @Body) RETURNING id",
            new { RunId = runId, ActorName = author.DisplayName, ActorId = author.Id, Body = body });

    /// <summary>Stores one probe execution as evidence.</summary>
    public Task InsertProbeResultAsync(OpsTransaction tx, long runId, Guid batchId, ProbeExecution execution, OpsActor runBy)
    {
        const string sql = """
            INSERT INTO ops.deployment_probe_results
                (run_id, probe_key, batch_id, sql, passed, message, columns, rows, row_count, duration_ms, run_by, run_by_id)
            VALUES (@RunId, @ProbeKey, @BatchId, @Sql, @Passed, @Message, @Columns::jsonb, @Rows::jsonb, @RowCount, @DurationMs, @ActorName, @ActorId)
            """;
        return tx.ExecuteAsync(sql, new
        {
            RunId = runId,
            execution.ProbeKey,
            BatchId = batchId,
            execution.Sql,
            execution.Verdict.Passed,
            execution.Verdict.Message,
            Columns = JsonSerializer.Serialize(execution.Output.Columns),
            Rows = JsonSerializer.Serialize(execution.Output.Rows),
            execution.Output.RowCount,
            DurationMs = Math.Round((decimal)execution.Duration.TotalMilliseconds, 3),
            ActorName = runBy.DisplayName,
            ActorId = runBy.Id,
        });
    }

    /// <summary>Writes a signature and, for approval or rollback, the status it brings.</summary>
    public Task SignAsync(OpsTransaction tx, long runId, SignOffKind kind, OpsActor actor)
    {
        var set = kind switch
        {
            SignOffKind.Deployed => "deployed_by = @ActorName, deployed_by_id = @ActorId, deployed_at = now()",
            SignOffKind.Verified => "verified_by = @ActorName, verified_by_id = @ActorId, verified_at = now()",
            SignOffKind.Approved => "approved_by = @ActorName, approved_by_id = @ActorId, approved_at = now(), status = 'COMPLETE'",
            SignOffKind.RolledBack => "rolled_back_by = @ActorName, rolled_back_by_id = @ActorId, rolled_back_at = now(), status = 'ROLLED BACK'",
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
        return tx.ExecuteAsync(
            $"UPDATE ops.deployment_runs SET {set}, updated_at = now() WHERE id = @RunId AND status = 'INCOMPLETE'",
            new { RunId = runId, ActorName = actor.DisplayName, ActorId = actor.Id });
    }

    /// <summary>Appends a timeline event (which NOTIFYs at commit); returns its id.</summary>
    public Task<long> InsertEventAsync(OpsTransaction tx, long runId, OpsActor actor, string action, string? subject, string summary, object? before, object? after)
    {
        const string sql = """
            INSERT INTO ops.deployment_events (run_id, actor, actor_id, action, subject, summary, before, after)
            VALUES (@RunId, @ActorName, @ActorId, @Action, @Subject, @Summary, @Before::jsonb, @After::jsonb)
            RETURNING id
            """;
        return tx.QuerySingleAsync<long>(sql, new
        {
            RunId = runId,
            ActorName = actor.DisplayName,
            ActorId = actor.Id,
            Action = action,
            Subject = subject,
            Summary = summary,
            Before = before is null ? null : JsonSerializer.Serialize(before),
            After = after is null ? null : JsonSerializer.Serialize(after),
        });
    }

    /// <summary>One timeline event by id (for "who did what" on a live update); null when there is none.</summary>
    public async Task<TimelineEvent?> EventAsync(NpgsqlConnection connection, long eventId, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<EventRow>(Command(TimelineSql + " WHERE id = @Id", new { Id = eventId }, null, cancellationToken));
        return row?.ToEvent();
    }

    private async Task<Runbook> RunbookAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string slug, string versionHash, CancellationToken cancellationToken)
    {
        if (catalog.CachedVersion(slug, versionHash) is { } cached)
        {
            return cached;
        }

        var markdown = await connection.ExecuteScalarAsync<string>(Command(
            "SELECT markdown FROM ops.deployment_templates WHERE slug = @Slug AND version_hash = @VersionHash",
            new { Slug = slug, VersionHash = versionHash }, transaction, cancellationToken))
            ?? throw new InvalidOperationException($"Template {slug} version {versionHash} is missing.");
        return catalog.ForVersion(slug, markdown);
    }

    private static CommandDefinition Command(string sql, object args, NpgsqlTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, args, transaction, cancellationToken: cancellationToken);

    private static Signature? SignatureOf(string? userName, DateTime? at, string? actorId) =>
        userName is null || at is null ? null : new Signature(userName, DeploymentRows.Utc(at.Value), actorId);

    /// <summary>Formats a number for summaries.</summary>
    internal static string Invariant(decimal value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
