using System.Text;

namespace OpsConsole.Core.Deployments.Preflight;

/// <summary>The pre-flight report as plain text, for the <c>preflight</c> verb and the run record.</summary>
public static class PreflightText
{
    /// <summary>The report, one finding a line, in sections.</summary>
    public static string Format(PreflightReport report)
    {
        var text = new StringBuilder();
        text.AppendLine($"Pre-flight of {report.Database} as {report.Login} at {report.At:u}");
        if (!report.IsMarketplace)
        {
            text.AppendLine($"Not a marketplace database: missing table(s) {string.Join(", ", report.MissingTables)}.");
            return text.ToString();
        }

        text.AppendLine();
        text.AppendLine($"Installed fix: {report.FixName}");
        text.AppendLine($"  {report.FixDescription}");
        foreach (var function in report.Functions)
        {
            text.AppendLine($"  {function.Signature} -> {function.Result}; body md5 {function.BodyHash}{(function.MatchesDropIn ? " (ours)" : "")}");
        }

        text.AppendLine();
        text.AppendLine("Columns the fix touches:");
        foreach (var column in report.Columns)
        {
            text.AppendLine($"  {column.Name} {column.Type ?? "(absent)"}");
        }

        text.AppendLine("Row-level security:");
        foreach (var table in report.Tables.Where(t => t.Exists))
        {
            text.AppendLine($"  {table.Table} {(table.RowLevelSecurity ? "on" : "OFF")}");
        }

        text.AppendLine();
        text.AppendLine("What migrate will change:");
        var migration = report.Migration;
        text.AppendLine(migration.AppliedScripts is null
            ? "  pending console scripts: unknown"
            : migration.PendingScripts.Count == 0
                ? "  pending console scripts: none"
                : $"  pending console scripts: {string.Join(", ", migration.PendingScripts)}");
        foreach (var note in migration.Notes)
        {
            text.AppendLine($"  {note}");
        }

        foreach (var change in migration.DropInChanges)
        {
            text.AppendLine($"  drop-in {change.Description}");
        }

        if (report.Rollback is { } rollback)
        {
            text.AppendLine();
            text.AppendLine("What the rollback will do (rollback_20260206000001.sql, from payment_fix_rollback_state):");
            foreach (var change in rollback.Changes)
            {
                text.AppendLine($"  {change.Description}");
            }

            if (rollback.FractionsRound)
            {
                text.AppendLine($"  fractions round: credit amounts with fractions become whole credits" +
                    (rollback.RowsWithFractions is { } rows ? $" ({rows} rows hold a fraction now)" : ""));
            }

            if (rollback.Note is not null)
            {
                text.AppendLine($"  {rollback.Note}");
            }
        }
        else
        {
            text.AppendLine();
            text.AppendLine("Rollback: payment_fix_rollback_state does not exist (the drop-in was never applied here); nothing to roll back.");
        }

        return text.ToString();
    }
}
