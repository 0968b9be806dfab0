namespace OpsConsole.Core.Deployments;

/// <summary>A run's status, as the guide names them.</summary>
public enum DeploymentStatus
{
    /// <summary>Open: being worked through. Shown as INCOMPLETE.</summary>
    Incomplete,

    /// <summary>Approved; read-only except for notes. Shown as COMPLETE.</summary>
    Complete,

    /// <summary>Rolled back and signed; read-only except for notes. Shown as ROLLED BACK.</summary>
    RolledBack,
}

/// <summary>The state of one checklist item.</summary>
public enum ItemState
{
    /// <summary>Not done (the state of an item nobody touched).</summary>
    Unchecked,

    /// <summary>Done.</summary>
    Checked,

    /// <summary>Does not apply, with a reason.</summary>
    NotApplicable,
}

/// <summary>Which signature of the record.</summary>
public enum SignOffKind
{
    /// <summary>Deployed by.</summary>
    Deployed,

    /// <summary>Verified by: not the deployer.</summary>
    Verified,

    /// <summary>Approved by: approve permission, neither deployer nor verifier; makes the run COMPLETE.</summary>
    Approved,

    /// <summary>Rolled back by: the rollback section done; makes the run ROLLED BACK.</summary>
    RolledBack,
}

/// <summary>A signature: who, and when (the database's clock).</summary>
/// <param name="UserName">The signer's display name, as the record shows it.</param>
/// <param name="At">When.</param>
/// <param name="ActorId">The signer's stable identity (<see cref="Actions.OpsActor.Id"/>); null on signatures older than migration 0021.</param>
public sealed record Signature(string UserName, DateTimeOffset At, string? ActorId = null)
{
    /// <summary>True when <paramref name="actor"/> made this signature (see <see cref="DeploymentText.IsBy"/>).</summary>
    public bool IsBy(Actions.OpsActor actor) => DeploymentText.IsBy(actor, UserName, ActorId);
}

/// <summary>The stored state of one item (an item without one is unchecked).</summary>
/// <param name="ItemKey">The runbook item.</param>
/// <param name="State">Its state.</param>
/// <param name="Reason">Why it is N/A (only for <see cref="ItemState.NotApplicable"/>).</param>
/// <param name="Version">Increases with every change; a change names the version it saw.</param>
/// <param name="UpdatedBy">Who changed it last.</param>
/// <param name="UpdatedAt">When.</param>
public sealed record ItemStatus(string ItemKey, ItemState State, string? Reason, int Version, string UpdatedBy, DateTimeOffset UpdatedAt);

/// <summary>A contact field's value on a run.</summary>
public sealed record ContactValue(string FieldKey, string Value, string? UpdatedBy, DateTimeOffset? UpdatedAt);

/// <summary>One execution of one probe, kept as evidence.</summary>
/// <param name="Id">Its id; the newest per probe is the one that counts.</param>
/// <param name="ProbeKey">The probe.</param>
/// <param name="BatchId">The "Run checks" press it belongs to.</param>
/// <param name="Sql">The query that ran.</param>
/// <param name="Passed">Whether the result met the expectation.</param>
/// <param name="Message">The verdict in words (or the error).</param>
/// <param name="Columns">Column names.</param>
/// <param name="Rows">The rows kept, each value as text (null for SQL NULL).</param>
/// <param name="RowCount">How many rows the query returned.</param>
/// <param name="DurationMs">How long the query took.</param>
/// <param name="RunBy">Who pressed "Run checks".</param>
/// <param name="RunAt">When.</param>
public sealed record ProbeResult(
    long Id, string ProbeKey, Guid BatchId, string Sql, bool Passed, string Message,
    IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string?>> Rows, int RowCount,
    decimal DurationMs, string RunBy, DateTimeOffset RunAt);

/// <summary>A note on a run; notes are only ever appended.</summary>
public sealed record DeploymentNote(long Id, string Author, string Body, DateTimeOffset At);

/// <summary>One line of a run's timeline.</summary>
/// <param name="Id">Increases with every event of the database.</param>
/// <param name="At">When.</param>
/// <param name="Actor">Who.</param>
/// <param name="Action">What, as a dotted name: <c>item.checked</c>, <c>signoff.approved</c>, ...</param>
/// <param name="Subject">What it was done to (an item, probe or field key), or null.</param>
/// <param name="Summary">One sentence for people.</param>
/// <param name="Before">The state before, as JSON, or null.</param>
/// <param name="After">The state after, as JSON, or null.</param>
/// <param name="ActorId">Who, as a stable identity; null on events older than migration 0021.</param>
public sealed record TimelineEvent(
    long Id, DateTimeOffset At, string Actor, string Action, string? Subject, string Summary, string? Before, string? After, string? ActorId = null)
{
    /// <summary>True when <paramref name="actor"/> did this (see <see cref="DeploymentText.IsBy"/>).</summary>
    public bool IsBy(Actions.OpsActor actor) => DeploymentText.IsBy(actor, Actor, ActorId);
}

/// <summary>A run in the list.</summary>
public sealed record DeploymentRunSummary(
    long Id, string Title, string TemplateSlug, DeploymentStatus Status, string StartedBy, DateTimeOffset StartedAt,
    int ItemsDone, int ItemsTotal, int ProbesPassing, int ProbesTotal);

/// <summary>Everything about one run: its template version, the state of every item, the evidence, signatures, notes and timeline.</summary>
public sealed record DeploymentRun(
    long Id,
    string Title,
    Runbook Runbook,
    DeploymentStatus Status,
    Signature Started,
    Signature? Deployed,
    Signature? Verified,
    Signature? Approved,
    Signature? RolledBack,
    IReadOnlyDictionary<string, ItemStatus> ItemStates,
    IReadOnlyDictionary<string, ContactValue> Contacts,
    IReadOnlyDictionary<string, ProbeResult> LatestProbeResults,
    IReadOnlyList<DeploymentNote> Notes,
    IReadOnlyList<TimelineEvent> Timeline)
{
    /// <summary>COMPLETE and ROLLED BACK runs only take notes.</summary>
    public bool IsReadOnly => Status != DeploymentStatus.Incomplete;

    /// <summary>The state of <paramref name="itemKey"/> (unchecked when never touched).</summary>
    public ItemState StateOf(string itemKey) => ItemStates.TryGetValue(itemKey, out var s) ? s.State : ItemState.Unchecked;

    /// <summary>The version of <paramref name="itemKey"/>'s state (0 when never touched).</summary>
    public int VersionOf(string itemKey) => ItemStates.TryGetValue(itemKey, out var s) ? s.Version : 0;

    /// <summary>The value of a contact field (its default when never edited).</summary>
    public string ContactOf(ContactField field) => Contacts.TryGetValue(field.Key, out var v) ? v.Value : field.DefaultValue;

    /// <summary>Items checked or N/A.</summary>
    public int ItemsDone => Runbook.Items.Count(i => StateOf(i.Key) != ItemState.Unchecked);

    /// <summary>Probes whose latest result passed.</summary>
    public int ProbesPassing => Runbook.Probes.Count(p => LatestProbeResults.TryGetValue(p.Key, out var r) && r.Passed);

    /// <summary>The newest timeline event's id (0 when none): what a viewer has seen.</summary>
    public long LastEventId => Timeline.Count == 0 ? 0 : Timeline[^1].Id;
}

/// <summary>Spellings of the model's values in the database and on the page.</summary>
public static class DeploymentText
{
    /// <summary>The status as the guide and the database spell it.</summary>
    public static string ToText(this DeploymentStatus status) => status switch
    {
        DeploymentStatus.Incomplete => "INCOMPLETE",
        DeploymentStatus.Complete => "COMPLETE",
        DeploymentStatus.RolledBack => "ROLLED BACK",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    /// <summary>The status from its database spelling.</summary>
    public static DeploymentStatus ParseStatus(string text) => text switch
    {
        "INCOMPLETE" => DeploymentStatus.Incomplete,
        "COMPLETE" => DeploymentStatus.Complete,
        "ROLLED BACK" => DeploymentStatus.RolledBack,
        _ => throw new InvalidOperationException($"Unknown deployment status '{text}'."),
    };

    /// <summary>The item state as the database spells it.</summary>
    public static string ToSql(this ItemState state) => state switch
    {
        ItemState.Unchecked => "unchecked",
        ItemState.Checked => "checked",
        ItemState.NotApplicable => "na",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    /// <summary>The item state from its database spelling.</summary>
    public static ItemState ParseItemState(string text) => text switch
    {
        "unchecked" => ItemState.Unchecked,
        "checked" => ItemState.Checked,
        "na" => ItemState.NotApplicable,
        _ => throw new InvalidOperationException($"Unknown item state '{text}'."),
    };

    /// <summary>
    /// True when <paramref name="actor"/> is who a record names: by identity, or by name (case-insensitive) for rows
    /// older than identities (migration 0021), so an old record never lets its author count as someone else.
    /// </summary>
    public static bool IsBy(Actions.OpsActor actor, string name, string? actorId) => actorId is not null
        ? actor.Is(actorId)
        : string.Equals(name, actor.DisplayName, StringComparison.OrdinalIgnoreCase);

    /// <summary>The signature's label on the record.</summary>
    public static string Label(this SignOffKind kind) => kind switch
    {
        SignOffKind.Deployed => "Deployed by",
        SignOffKind.Verified => "Verified by",
        SignOffKind.Approved => "Approved by",
        SignOffKind.RolledBack => "Rolled back by",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
