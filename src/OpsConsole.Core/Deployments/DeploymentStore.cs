using System.Globalization;
using System.Text.Json;
using Dapper;
using Npgsql;

namespace OpsConsole.Core.Deployments;

/// <summary>
/// The SQL of the deployment checklist. Every method works on the caller's connection and transaction,
/// so that the service can lock a run, check its rules and write the change and its timeline event in one
/// transaction.
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
               r.started_by AS StartedBy, r.started_at AS StartedAt,
               r.deployed_by AS DeployedBy, r.deployed_at AS DeployedAt, r.verified_by AS VerifiedBy, r.verified_at AS VerifiedAt,
               r.approved_by AS ApprovedBy, r.approved_at AS ApprovedAt, r.rolled_back_by AS RolledBackBy, r.rolled_back_at AS RolledBackAt
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
               before::text AS Before, after::text AS After
        FROM ops.deployment_events WHERE run_id = @Id ORDER BY id
        """;

    /// <summary>Loads a run with everything the page and the rules need; null when there is none.</summary>
    public async Task<DeploymentRun?> LoadAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, long runId, RunLock runLock, bool withTimeline, CancellationToken cancellationToken)
    {
        var lockClause = runLock switch
        {
            RunLock.Share => " FOR SHARE OF r",
            RunLock.Update => " FOR UPDATE OF r",
            _ => "",
        };
        var run = await connection.QuerySingleOrDefaultAsync<RunRow>(Command(RunSql + lockClause, new { Id = runId }, transaction, cancellationToken));
        if (run is null)
        {
            return null;
        }

        var runbook = await RunbookAsync(connection, transaction, run.Slug, run.VersionHash, cancellationToken);
        var args = new { Id = runId };
        var items = await connection.QueryAsync<ItemRow>(Command(ItemStatesSql, args, transaction, cancellationToken));
        var contacts = await connection.QueryAsync<ContactRow>(Command(ContactsSql, args, transaction, cancellationToken));
        var probes = await connection.QueryAsync<ProbeRow>(Command(LatestProbeResultsSql, args, transaction, cancellationToken));
        var notes = await connection.QueryAsync<NoteRow>(Command(NotesSql, args, transaction, cancellationToken));
        var timeline = withTimeline
            ? await connection.QueryAsync<EventRow>(Command(TimelineSql, args, transaction, cancellationToken))
            : [];

        return new DeploymentRun(
            run.Id,
            run.Title,
            runbook,
            DeploymentText.ParseStatus(run.Status),
            new Signature(run.StartedBy, Utc(run.StartedAt)),
            SignatureOf(run.DeployedBy, run.DeployedAt),
            SignatureOf(run.VerifiedBy, run.VerifiedAt),
            SignatureOf(run.ApprovedBy, run.ApprovedAt),
            SignatureOf(run.RolledBackBy, run.RolledBackAt),
            items.ToDictionary(i => i.ItemKey, i => new ItemStatus(i.ItemKey, DeploymentText.ParseItemState(i.State), i.Reason, i.Version, i.UpdatedBy, Utc(i.UpdatedAt))),
            contacts.ToDictionary(c => c.FieldKey, c => new ContactValue(c.FieldKey, c.Value, c.UpdatedBy, Utc(c.UpdatedAt))),
            probes.ToDictionary(p => p.ProbeKey, p => p.ToResult()),
            [.. notes.Select(n => new DeploymentNote(n.Id, n.Author, n.Body, Utc(n.At)))],
            [.. timeline.Select(e => new TimelineEvent(e.Id, Utc(e.At), e.Actor, e.Action, e.Subject, e.Summary, e.Before, e.After))]);
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
            result.Add(new DeploymentRunSummary(row.Id, row.Title, row.Slug, DeploymentText.ParseStatus(row.Status), row.StartedBy, Utc(row.StartedAt),
                row.ItemsDone, runbook.Items.Count, row.ProbesPassing, runbook.Probes.Count));
        }

        return result;
    }

    /// <summary>Stores the template version (once) and a new run on it; returns the run's id.</summary>
    public async Task<long> InsertRunAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Runbook runbook, string title, string startedBy, CancellationToken cancellationToken)
    {
        const string templateSql = """
            INSERT INTO ops.deployment_templates (slug, version_hash, title, markdown)
            VALUES (@Slug, @VersionHash, @Title, @Markdown)
            ON CONFLICT (slug, version_hash) DO UPDATE SET slug = EXCLUDED.slug
            RETURNING id
            """;
        const string runSql = """
            INSERT INTO ops.deployment_runs (template_id, title, started_by) VALUES (@TemplateId, @Title, @StartedBy) RETURNING id
            """;
        var templateId = await connection.ExecuteScalarAsync<long>(Command(templateSql,
            new { runbook.Slug, runbook.VersionHash, runbook.Title, runbook.Markdown }, transaction, cancellationToken));
        return await connection.ExecuteScalarAsync<long>(Command(runSql, new { TemplateId = templateId, Title = title, StartedBy = startedBy }, transaction, cancellationToken));
    }

    /// <summary>Writes one item's state, raising its version.</summary>
    public Task UpsertItemAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long runId, string itemKey, ItemState state, string? reason, string userName, CancellationToken cancellationToken)
    {
        const string sql = """
            INSERT INTO ops.deployment_item_states (run_id, item_key, state, reason, updated_by)
            VALUES (@RunId, @ItemKey, @State, @Reason, @UserName)
            ON CONFLICT (run_id, item_key) DO UPDATE
               SET state = EXCLUDED.state, reason = EXCLUDED.reason, updated_by = EXCLUDED.updated_by,
                   updated_at = now(), version = ops.deployment_item_states.version + 1
            """;
        return connection.ExecuteAsync(Command(sql, new { RunId = runId, ItemKey = itemKey, State = state.ToSql(), Reason = reason, UserName = userName }, transaction, cancellationToken));
    }

    /// <summary>Locks and reads one item's stored state (null when never touched).</summary>
    public async Task<ItemStatus?> LockItemAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long runId, string itemKey, CancellationToken cancellationToken)
    {
        // The row lock alone would not serialise two first ticks of an item (no row yet to lock), so both
        // would pass the version check; a transaction-scoped advisory lock per item does.
        await connection.ExecuteAsync(Command(
            "SELECT pg_advisory_xact_lock(hashtextextended('ops.deployment_item:' || @Id || ':' || @ItemKey, 0))",
            new { Id = runId, ItemKey = itemKey }, transaction, cancellationToken));
        var row = await connection.QuerySingleOrDefaultAsync<ItemRow>(Command(
            ItemStatesSql + " AND item_key = @ItemKey FOR UPDATE", new { Id = runId, ItemKey = itemKey }, transaction, cancellationToken));
        return row is null ? null : new ItemStatus(row.ItemKey, DeploymentText.ParseItemState(row.State), row.Reason, row.Version, row.UpdatedBy, Utc(row.UpdatedAt));
    }

    /// <summary>Writes one contact field.</summary>
    public Task UpsertContactAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long runId, string fieldKey, string value, string userName, CancellationToken cancellationToken)
    {
        const string sql = """
            INSERT INTO ops.deployment_contacts (run_id, field_key, value, updated_by) VALUES (@RunId, @FieldKey, @Value, @UserName)
            ON CONFLICT (run_id, field_key) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = now()
            """;
        return connection.ExecuteAsync(Command(sql, new { RunId = runId, FieldKey = fieldKey, Value = value, UserName = userName }, transaction, cancellationToken));
    }

    /// <summary>Appends a note; returns its id.</summary>
    public Task<long> InsertNoteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long runId, string author, string body, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<long>(Command(
            "INSERT INTO ops.deployment_notes (run_id, author, body) VALUES (@RunId, @Author, @Body) RETURNING id",
            new { RunId = runId, Author = author, Body = body }, transaction, cancellationToken));

    /// <summary>Stores one probe execution as evidence.</summary>
    public Task InsertProbeResultAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long runId, Guid batchId, ProbeExecution execution, string runBy, CancellationToken cancellationToken)
    {
        const string sql = """
            INSERT INTO ops.deployment_probe_results (run_id, probe_key, batch_id, sql, passed, message, columns, rows, row_count, duration_ms, run_by)
            VALUES (@RunId, @ProbeKey, @BatchId, @Sql, @Passed, @Message, @Columns::jsonb, @Rows::jsonb, @RowCount, @DurationMs, @RunBy)
            """;
        return connection.ExecuteAsync(Command(sql, new
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
            RunBy = runBy,
        }, transaction, cancellationToken));
    }

    /// <summary>Writes a signature and, for approval or rollback, the status it brings.</summary>
    public Task SignAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long runId, SignOffKind kind, string userName, CancellationToken cancellationToken)
    {
        var set = kind switch
        {
            SignOffKind.Deployed => "deployed_by = @UserName, deployed_at = now()",
            SignOffKind.Verified => "verified_by = @UserName, verified_at = now()",
            SignOffKind.Approved => "approved_by = @UserName, approved_at = now(), status = 'COMPLETE'",
            SignOffKind.RolledBack => "rolled_back_by = @UserName, rolled_back_at = now(), status = 'ROLLED BACK'",
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
        return connection.ExecuteAsync(Command(
            $"UPDATE ops.deployment_runs SET {set}, updated_at = now() WHERE id = @RunId AND status = 'INCOMPLETE'",
            new { RunId = runId, UserName = userName }, transaction, cancellationToken));
    }

    /// <summary>Appends a timeline event (which NOTIFYs at commit); returns its id.</summary>
    public Task<long> InsertEventAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, long runId, string actor, string action, string? subject, string summary,
        object? before, object? after, CancellationToken cancellationToken)
    {
        const string sql = """
            INSERT INTO ops.deployment_events (run_id, actor, action, subject, summary, before, after)
            VALUES (@RunId, @Actor, @Action, @Subject, @Summary, @Before::jsonb, @After::jsonb)
            RETURNING id
            """;
        return connection.ExecuteScalarAsync<long>(Command(sql, new
        {
            RunId = runId,
            Actor = actor,
            Action = action,
            Subject = subject,
            Summary = summary,
            Before = before is null ? null : JsonSerializer.Serialize(before),
            After = after is null ? null : JsonSerializer.Serialize(after),
        }, transaction, cancellationToken));
    }

    /// <summary>One timeline event by id (for "who did what" on a live update); null when there is none.</summary>
    public async Task<TimelineEvent?> EventAsync(NpgsqlConnection connection, long eventId, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT id AS Id, at AS At, actor AS Actor, action AS Action, subject AS Subject, summary AS Summary,
                   before::text AS Before, after::text AS After
            FROM ops.deployment_events WHERE id = @Id
            """;
        var row = await connection.QuerySingleOrDefaultAsync<EventRow>(Command(sql, new { Id = eventId }, null, cancellationToken));
        return row is null ? null : new TimelineEvent(row.Id, Utc(row.At), row.Actor, row.Action, row.Subject, row.Summary, row.Before, row.After);
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

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private static Signature? SignatureOf(string? userName, DateTime? at) =>
        userName is null || at is null ? null : new Signature(userName, Utc(at.Value));

    private sealed class RunRow
    {
        public long Id { get; init; }
        public string Title { get; init; } = "";
        public string Status { get; init; } = "";
        public string Slug { get; init; } = "";
        public string VersionHash { get; init; } = "";
        public string StartedBy { get; init; } = "";
        public DateTime StartedAt { get; init; }
        public string? DeployedBy { get; init; }
        public DateTime? DeployedAt { get; init; }
        public string? VerifiedBy { get; init; }
        public DateTime? VerifiedAt { get; init; }
        public string? ApprovedBy { get; init; }
        public DateTime? ApprovedAt { get; init; }
        public string? RolledBackBy { get; init; }
        public DateTime? RolledBackAt { get; init; }
    }

    private sealed class SummaryRow
    {
        public long Id { get; init; }
        public string Title { get; init; } = "";
        public string Slug { get; init; } = "";
        public string VersionHash { get; init; } = "";
        public string Status { get; init; } = "";
        public string StartedBy { get; init; } = "";
        public DateTime StartedAt { get; init; }
        public int ItemsDone { get; init; }
        public int ProbesPassing { get; init; }
    }

    private sealed class ItemRow
    {
        public string ItemKey { get; init; } = "";
        public string State { get; init; } = "";
        public string? Reason { get; init; }
        public int Version { get; init; }
        public string UpdatedBy { get; init; } = "";
        public DateTime UpdatedAt { get; init; }
    }

    private sealed class ContactRow
    {
        public string FieldKey { get; init; } = "";
        public string Value { get; init; } = "";
        public string UpdatedBy { get; init; } = "";
        public DateTime UpdatedAt { get; init; }
    }

    private sealed class NoteRow
    {
        public long Id { get; init; }
        public string Author { get; init; } = "";
        public string Body { get; init; } = "";
        public DateTime At { get; init; }
    }

    private sealed class EventRow
    {
        public long Id { get; init; }
        public DateTime At { get; init; }
        public string Actor { get; init; } = "";
        public string Action { get; init; } = "";
        public string? Subject { get; init; }
        public string Summary { get; init; } = "";
        public string? Before { get; init; }
        public string? After { get; init; }
    }

    private sealed class ProbeRow
    {
        public long Id { get; init; }
        public string ProbeKey { get; init; } = "";
        public Guid BatchId { get; init; }
        public string Sql { get; init; } = "";
        public bool Passed { get; init; }
        public string Message { get; init; } = "";
        public string Columns { get; init; } = "[]";
        public string Rows { get; init; } = "[]";
        public int RowCount { get; init; }
        public decimal DurationMs { get; init; }
        public string RunBy { get; init; } = "";
        public DateTime RunAt { get; init; }

        public ProbeResult ToResult()
        {
            var columns = JsonSerializer.Deserialize<string[]>(Columns) ?? [];
            using var rows = JsonDocument.Parse(Rows);
            var values = rows.RootElement.EnumerateArray()
                .Select(r => (IReadOnlyList<string?>)[.. r.EnumerateArray().Select(Text)])
                .ToArray();
            return new ProbeResult(Id, ProbeKey, BatchId, Sql, Passed, Message, columns, values, RowCount, DurationMs, RunBy, Utc(RunAt));
        }

        private static string? Text(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            JsonValueKind.String => value.GetString(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Number => value.GetRawText(),
            _ => value.GetRawText(),
        };
    }

    /// <summary>Formats a number for summaries.</summary>
    internal static string Invariant(decimal value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
