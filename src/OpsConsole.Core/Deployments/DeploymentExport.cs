using OpsConsole.Core.Exports;
using System.Globalization;
using System.Text;

namespace OpsConsole.Core.Deployments;

/// <summary>The run as an auditor takes it away: the signed record as Markdown, the timeline as CSV.</summary>
public static class DeploymentExport
{
    /// <summary>The record: status, template version, contacts, signatures, every item with who and when, the latest evidence, notes.</summary>
    public static string ToMarkdown(DeploymentRun run)
    {
        var md = new StringBuilder();
        md.Append("# ").AppendLine(Inline(run.Title)).AppendLine();
        md.Append("- Deployment run: ").AppendLine(run.Id.ToString(CultureInfo.InvariantCulture));
        md.Append("- Status: **").Append(run.Status.ToText()).AppendLine("**");
        md.Append("- Runbook: ").Append(Inline(run.Runbook.Slug)).Append(" (").Append(Inline(run.Runbook.Title)).Append("), version `")
            .Append(run.Runbook.VersionHash).AppendLine("`");
        md.Append("- Started by ").Append(Inline(run.Started.UserName)).Append(" at ").AppendLine(Time(run.Started.At));
        md.Append("- Progress: ").Append(run.ItemsDone).Append(" of ").Append(run.Runbook.Items.Count).Append(" items done, ")
            .Append(run.ProbesPassing).Append(" of ").Append(run.Runbook.Probes.Count).AppendLine(" checks passing").AppendLine();

        if (run.Runbook.ContactFields.Count > 0)
        {
            md.AppendLine("## Contacts").AppendLine().AppendLine("| Field | Value |").AppendLine("|---|---|");
            foreach (var field in run.Runbook.ContactFields)
            {
                md.Append("| ").Append(Cell(field.Label)).Append(" | ").Append(Cell(run.ContactOf(field))).AppendLine(" |");
            }

            md.AppendLine();
        }

        md.AppendLine("## Sign-off").AppendLine().AppendLine("| Signature | Who | When |").AppendLine("|---|---|---|");
        foreach (var (kind, signature) in new[]
                 {
                     (SignOffKind.Deployed, run.Deployed), (SignOffKind.Verified, run.Verified),
                     (SignOffKind.Approved, run.Approved), (SignOffKind.RolledBack, run.RolledBack),
                 })
        {
            md.Append("| ").Append(kind.Label()).Append(" | ").Append(signature is null ? "—" : Cell(signature.UserName))
                .Append(" | ").Append(signature is null ? "—" : Time(signature.At)).AppendLine(" |");
        }

        md.AppendLine().AppendLine("## Checklist").AppendLine();
        foreach (var section in run.Runbook.Sections.Where(s => s.Blocks.OfType<ChecklistItem>().Any()))
        {
            md.Append("### ").AppendLine(Inline(section.Title)).AppendLine();
            foreach (var item in section.Blocks.OfType<ChecklistItem>())
            {
                var status = run.ItemStates.GetValueOrDefault(item.Key);
                var state = status?.State ?? ItemState.Unchecked;
                md.Append(state switch { ItemState.Checked => "- [x] ", ItemState.NotApplicable => "- [N/A] ", _ => "- [ ] " })
                    .Append(Inline(item.Text));
                if (status is not null && state != ItemState.Unchecked)
                {
                    md.Append(" — ").Append(state == ItemState.Checked ? "checked" : "N/A").Append(" by ").Append(Inline(status.UpdatedBy))
                        .Append(" at ").Append(Time(status.UpdatedAt));
                    if (state == ItemState.NotApplicable)
                    {
                        md.Append(": ").Append(Inline(status.Reason ?? ""));
                    }
                }

                md.AppendLine();
            }

            md.AppendLine();
        }

        md.AppendLine("## Checks (latest run of each)").AppendLine()
            .AppendLine("| Check | Expected | Result | Rows | Time | Run by | At |").AppendLine("|---|---|---|---|---|---|---|");
        foreach (var probe in run.Runbook.Probes)
        {
            var result = run.LatestProbeResults.GetValueOrDefault(probe.Key);
            md.Append("| ").Append(Cell(probe.Title)).Append(" | ").Append(Cell(probe.Expectation.Text)).Append(" | ");
            if (result is null)
            {
                md.AppendLine("never run | | | | |");
                continue;
            }

            md.Append(result.Passed ? "PASS: " : "FAIL: ").Append(Cell(result.Message)).Append(" | ")
                .Append(result.RowCount).Append(" | ").Append(result.DurationMs.ToString("0.###", CultureInfo.InvariantCulture)).Append(" ms | ")
                .Append(Cell(result.RunBy)).Append(" | ").Append(Time(result.RunAt)).AppendLine(" |");
        }

        md.AppendLine().AppendLine("## Notes").AppendLine();
        if (run.Notes.Count == 0)
        {
            md.AppendLine("None.");
        }

        foreach (var note in run.Notes)
        {
            md.Append("- ").Append(Inline(note.Author)).Append(", ").Append(Time(note.At)).Append(": ").AppendLine(Inline(note.Body));
        }

        return md.ToString();
    }

    /// <summary>
    /// The timeline, one event a line: id, at (UTC, ISO 8601), actor, action, subject, summary, before, after (JSON),
    /// through <see cref="CsvExport"/> (RFC 4180 quoting, formula injection escaped).
    /// </summary>
    public static string ToTimelineCsv(DeploymentRun run) => CsvExport.Write(run.Timeline, TimelineColumns);

    private static readonly IReadOnlyList<CsvColumn<TimelineEvent>> TimelineColumns =
    [
        new("id", e => e.Id),
        new("at", e => e.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)),
        new("actor", e => e.Actor),
        new("action", e => e.Action),
        new("subject", e => e.Subject),
        new("summary", e => e.Summary),
        new("before", e => e.Before),
        new("after", e => e.After),
    ];

    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    private static string Inline(string text) => text.Replace('\n', ' ').Replace('\r', ' ');

    private static string Cell(string text) => Inline(text).Replace("|", "\\|", StringComparison.Ordinal);
}
