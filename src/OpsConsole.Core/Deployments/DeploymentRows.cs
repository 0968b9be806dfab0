using System.Text.Json;

namespace OpsConsole.Core.Deployments;

// The rows DeploymentStore reads, as Dapper fills them (column aliases = property names), and their model types.

internal static class DeploymentRows
{
    /// <summary>A timestamptz as Npgsql returns it (a UTC DateTime), as the model keeps it.</summary>
    public static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}

internal sealed class RunRow
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
    public string? StartedById { get; init; }
    public string? DeployedById { get; init; }
    public string? VerifiedById { get; init; }
    public string? ApprovedById { get; init; }
    public string? RolledBackById { get; init; }
}

internal sealed class SummaryRow
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

internal sealed class ItemRow
{
    public string ItemKey { get; init; } = "";
    public string State { get; init; } = "";
    public string? Reason { get; init; }
    public int Version { get; init; }
    public string UpdatedBy { get; init; } = "";
    public DateTime UpdatedAt { get; init; }

    public ItemStatus ToStatus() => new(ItemKey, DeploymentText.ParseItemState(State), Reason, Version, UpdatedBy, DeploymentRows.Utc(UpdatedAt));
}

internal sealed class ContactRow
{
    public string FieldKey { get; init; } = "";
    public string Value { get; init; } = "";
    public string UpdatedBy { get; init; } = "";
    public DateTime UpdatedAt { get; init; }
}

internal sealed class NoteRow
{
    public long Id { get; init; }
    public string Author { get; init; } = "";
    public string Body { get; init; } = "";
    public DateTime At { get; init; }
}

internal sealed class EventRow
{
    public long Id { get; init; }
    public DateTime At { get; init; }
    public string Actor { get; init; } = "";
    public string Action { get; init; } = "";
    public string? Subject { get; init; }
    public string Summary { get; init; } = "";
    public string? Before { get; init; }
    public string? After { get; init; }
    public string? ActorId { get; init; }

    public TimelineEvent ToEvent() => new(Id, DeploymentRows.Utc(At), Actor, Action, Subject, Summary, Before, After, ActorId);
}

internal sealed class ProbeRow
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
        return new ProbeResult(Id, ProbeKey, BatchId, Sql, Passed, Message, columns, values, RowCount, DurationMs, RunBy, DeploymentRows.Utc(RunAt));
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
