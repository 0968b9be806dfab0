using System.Text;
using Markdig.Syntax;

namespace OpsConsole.Core.Deployments;

public static partial class RunbookParser
{
    // Probes: ```sql probe blocks with their -- Should expectation; other code blocks are commands.
    private static RunbookBlock CodeBlock(FencedCodeBlock code, SectionBuilder section, HashSet<string> keys, List<string> problems)
    {
        var language = code.Info ?? "";
        var text = code.Lines.ToString().TrimEnd();
        var isProbe = string.Equals(code.Arguments?.Trim(), "probe", StringComparison.OrdinalIgnoreCase);
        if (!isProbe)
        {
            return new CommandBlock(language, text);
        }

        var line = code.Line + 1;
        if (!string.Equals(language, "sql", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"Line {line}: only sql blocks can be probes, not '{language}'.");
        }

        var comments = text.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.StartsWith("--", StringComparison.Ordinal))
            .Select(l => l[2..].Trim())
            .ToArray();
        var shoulds = comments.Where(c => c.StartsWith("should", StringComparison.OrdinalIgnoreCase)).ToArray();
        var expectation = ProbeExpectation.None;
        if (shoulds.Length > 1)
        {
            problems.Add($"Line {line}: a probe has one expected result, this one has {shoulds.Length} '-- Should' lines.");
        }
        else if (shoulds.Length == 1)
        {
            var parsed = ProbeExpectation.TryParse(shoulds[0]);
            if (parsed is null)
            {
                problems.Add($"Line {line}: '-- {shoulds[0]}' is not an expectation the console understands; write {ProbeExpectation.Grammar}.");
            }

            expectation = parsed ?? ProbeExpectation.None;
        }

        if (HoldsSeveralStatements(text))
        {
            problems.Add($"Line {line}: a probe runs one statement; split this block into one probe per query.");
        }

        if (string.IsNullOrWhiteSpace(StripComments(text)))
        {
            problems.Add($"Line {line}: the probe holds no query.");
        }

        var probeTitle = comments.FirstOrDefault(c => c.Length > 0 && !c.StartsWith("should", StringComparison.OrdinalIgnoreCase)) ?? section.Title;
        var key = Unique(keys, section.Key + "/" + Slug(probeTitle));
        return new Probe(key, probeTitle, text, expectation, section.Role, section.Key);
    }

    /// <summary>True when the SQL holds a semicolon followed by more SQL (comments and string literals ignored).</summary>
    internal static bool HoldsSeveralStatements(string sql)
    {
        var statements = StripComments(sql).Split(';').Count(part => !string.IsNullOrWhiteSpace(part));
        return statements > 1;
    }

    // Removes -- and /* */ comments and the contents of '...' literals, so that ; inside them does not count.
    private static string StripComments(string sql)
    {
        var result = new StringBuilder(sql.Length);
        for (var i = 0; i < sql.Length; i++)
        {
            var c = sql[i];
            if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
            {
                while (i < sql.Length && sql[i] != '\n')
                {
                    i++;
                }

                result.Append('\n');
            }
            else if (c == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
            {
                var end = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? sql.Length : end + 1;
                result.Append(' ');
            }
            else if (c == '\'')
            {
                var end = i + 1;
                while (end < sql.Length && !(sql[end] == '\'' && (end + 1 >= sql.Length || sql[end + 1] != '\'')))
                {
                    end += sql[end] == '\'' ? 2 : 1;
                }

                result.Append("''");
                i = end;
            }
            else
            {
                result.Append(c);
            }
        }

        return result.ToString();
    }
}
