using System.Globalization;
using System.Text.RegularExpressions;

namespace OpsConsole.Core.Deployments;

/// <summary>The kinds of result a probe can be required to give.</summary>
public enum ExpectationKind
{
    /// <summary>No rule: the probe passes when it runs without error; its rows are evidence.</summary>
    RunsWithoutError,

    /// <summary>"Should return N rows": exactly N rows.</summary>
    RowCount,

    /// <summary>"Should be N": one row whose first column equals N.</summary>
    ValueEquals,

    /// <summary>"Should be at most N": one row whose first column is N or less.</summary>
    ValueAtMost,

    /// <summary>"Should be at least N": one row whose first column is N or more.</summary>
    ValueAtLeast,

    /// <summary>
    /// "Should show ROLE has PRIVILEGE": at least one row, and for every routine (column <c>routine_name</c>,
    /// or the whole result when there is none) a row with <c>grantee</c> = ROLE and <c>privilege_type</c> = PRIVILEGE.
    /// </summary>
    Grant,
}

/// <summary>What a probe returned: its column names and rows (the first <c>MaxStoredRows</c> of them) and how many there were.</summary>
/// <param name="Columns">Column names, in order.</param>
/// <param name="Rows">The rows kept, each value as read (numbers, text, timestamps, null).</param>
/// <param name="RowCount">How many rows the query returned (may exceed <see cref="Rows"/>).</param>
public sealed record ProbeOutput(IReadOnlyList<string> Columns, IReadOnlyList<object?[]> Rows, int RowCount);

/// <summary>A verdict on a probe's output.</summary>
/// <param name="Passed">True when the output meets the expectation.</param>
/// <param name="Message">Why, in words an engineer reads on the page.</param>
public sealed record ProbeVerdict(bool Passed, string Message);

/// <summary>
/// The expected result of a probe, read from its <c>-- Should ...</c> comment. The grammar is strict so that
/// a typo in a runbook is a parse error rather than a check that silently passes.
/// </summary>
public sealed partial record ProbeExpectation(ExpectationKind Kind, string Text, decimal Number = 0, string Role = "", string Privilege = "")
{
    /// <summary>The expectation of a probe without a <c>-- Should</c> line.</summary>
    public static ProbeExpectation None { get; } = new(ExpectationKind.RunsWithoutError, "Runs without error (evidence only)");

    /// <summary>The phrases understood, for error messages.</summary>
    public const string Grammar =
        "\"Should return N rows\", \"Should be N\", \"Should be at most N\", \"Should be at least N\" or \"Should show ROLE has PRIVILEGE\"";

    /// <summary>Reads an expectation from the text of a <c>-- Should ...</c> comment; null when the text is not one of <see cref="Grammar"/>.</summary>
    public static ProbeExpectation? TryParse(string text)
    {
        var t = text.Trim().TrimEnd('.').Trim();
        if (RowCountPattern().Match(t) is { Success: true } rows)
        {
            return new(ExpectationKind.RowCount, t, ParseNumber(rows.Groups["n"].Value));
        }

        if (CompareNumberPattern().Match(t) is { Success: true } compare)
        {
            var kind = compare.Groups["op"].Value.ToLowerInvariant() switch
            {
                "at most" => ExpectationKind.ValueAtMost,
                "at least" => ExpectationKind.ValueAtLeast,
                _ => ExpectationKind.ValueEquals,
            };
            return new(kind, t, ParseNumber(compare.Groups["n"].Value));
        }

        if (GrantPattern().Match(t) is { Success: true } grant)
        {
            return new(ExpectationKind.Grant, t, Role: grant.Groups["role"].Value, Privilege: grant.Groups["priv"].Value.ToUpperInvariant());
        }

        return null;
    }

    /// <summary>Judges a probe's output against this expectation.</summary>
    public ProbeVerdict Evaluate(ProbeOutput output)
    {
        switch (Kind)
        {
            case ExpectationKind.RunsWithoutError:
                return new(true, $"Ran without error: {Plural(output.RowCount, "row")} (evidence only).");
            case ExpectationKind.RowCount:
                return output.RowCount == Number
                    ? new(true, $"{Plural(output.RowCount, "row")}, as expected.")
                    : new(false, $"Returned {Plural(output.RowCount, "row")}; expected {Plural((int)Number, "row")}.");
            case ExpectationKind.ValueEquals or ExpectationKind.ValueAtMost or ExpectationKind.ValueAtLeast:
                return EvaluateValue(output);
            case ExpectationKind.Grant:
                return EvaluateGrant(output);
            default:
                throw new InvalidOperationException($"Unknown expectation kind {Kind}.");
        }
    }

    private ProbeVerdict EvaluateValue(ProbeOutput output)
    {
        var wanted = Kind switch
        {
            ExpectationKind.ValueAtMost => $"at most {Format(Number)}",
            ExpectationKind.ValueAtLeast => $"at least {Format(Number)}",
            _ => Format(Number),
        };
        if (output.RowCount != 1 || output.Columns.Count == 0 || output.Rows.Count == 0)
        {
            return new(false, $"Returned {Plural(output.RowCount, "row")}; expected one row whose first column is {wanted}.");
        }

        var column = output.Columns[0];
        if (!TryNumber(output.Rows[0][0], out var value))
        {
            var shown = output.Rows[0][0] is null ? "NULL" : $"'{output.Rows[0][0]}'";
            return new(false, $"{column} is {shown}, not a number; expected {wanted}.");
        }

        var passed = Kind switch
        {
            ExpectationKind.ValueAtMost => value <= Number,
            ExpectationKind.ValueAtLeast => value >= Number,
            _ => value == Number,
        };
        return new(passed, passed ? $"{column} is {Format(value)}: {wanted}, as expected." : $"{column} is {Format(value)}; expected {wanted}.");
    }

    private ProbeVerdict EvaluateGrant(ProbeOutput output)
    {
        var grantee = IndexOf(output.Columns, "grantee");
        var privilege = IndexOf(output.Columns, "privilege_type");
        if (grantee < 0 || privilege < 0)
        {
            return new(false, "The query must return the columns grantee and privilege_type.");
        }

        if (output.RowCount == 0)
        {
            return new(false, $"Returned no rows; expected {Role} to have {Privilege}.");
        }

        var routine = IndexOf(output.Columns, "routine_name");
        var groups = output.Rows.GroupBy(r => routine >= 0 ? Convert.ToString(r[routine], CultureInfo.InvariantCulture) ?? "" : "");
        var missing = groups
            .Where(g => !g.Any(r =>
                string.Equals(Convert.ToString(r[grantee], CultureInfo.InvariantCulture), Role, StringComparison.OrdinalIgnoreCase) &&
                string.Equals(Convert.ToString(r[privilege], CultureInfo.InvariantCulture), Privilege, StringComparison.OrdinalIgnoreCase)))
            .Select(g => g.Key)
            .ToArray();
        if (missing.Length == 0)
        {
            var count = groups.Count();
            return new(true, routine >= 0 ? $"{Role} has {Privilege} on all {Plural(count, "function")} listed." : $"{Role} has {Privilege}.");
        }

        return new(false, routine >= 0
            ? $"{Role} lacks {Privilege} on {string.Join(", ", missing)}."
            : $"No row shows {Role} with {Privilege}.");
    }

    private static int IndexOf(IReadOnlyList<string> columns, string name)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i], name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool TryNumber(object? value, out decimal number)
    {
        switch (value)
        {
            case decimal d:
                number = d;
                return true;
            case int or long or short or byte:
                number = Convert.ToDecimal(value, CultureInfo.InvariantCulture);
                return true;
            case double or float:
                var dbl = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (double.IsFinite(dbl) && Math.Abs(dbl) < 7.9e27)
                {
                    number = (decimal)dbl;
                    return true;
                }

                break;
        }

        number = 0;
        return false;
    }

    private static decimal ParseNumber(string text) => decimal.Parse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);

    private static string Format(decimal value) => value.ToString("0.##########", CultureInfo.InvariantCulture);

    private static string Plural(int n, string word) => n == 1 ? $"1 {word}" : $"{n} {word}s";

    [GeneratedRegex(@"^should return (?<n>\d+) rows?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex RowCountPattern();

    [GeneratedRegex(@"^should be (?:(?<op>at most|at least) )?(?<n>\d+(?:\.\d+)?)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CompareNumberPattern();

    [GeneratedRegex(@"^should show (?<role>[A-Za-z_][A-Za-z0-9_]*) has (?<priv>[A-Za-z]+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex GrantPattern();
}
