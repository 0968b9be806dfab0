using System.Text;
using System.Text.RegularExpressions;
using Markdig.Extensions.TaskLists;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace OpsConsole.Core.Deployments;

public static partial class RunbookParser
{
    // Items: - [ ] lines become checklist items; items and probes anywhere else are problems.
    private static RunbookBlock Item(string source, ListItemBlock item, SectionBuilder section, HashSet<string> keys, List<string> problems)
    {
        var paragraph = item.FirstOrDefault() as ParagraphBlock;
        var isTask = paragraph?.Inline?.FirstChild is TaskList;
        if (!isTask)
        {
            CheckNoProbesOrItemsInside(item, problems, "inside a list item");
            return new ProseBlock(Html(Slice(source, item)));
        }

        if (paragraph!.Inline!.FirstChild is TaskList { Checked: true })
        {
            problems.Add($"Line {item.Line + 1}: write items unticked (- [ ]); a template starts every run with nothing done.");
        }

        var text = InlineText(paragraph.Inline).Trim();
        // From the paragraph itself, not its line: the line also holds the list marker.
        var inlineSource = TaskMarker().Replace(
            string.Join('\n', source[paragraph.Span.Start..Math.Min(paragraph.Span.End + 1, source.Length)].Split('\n').Select(l => l.TrimStart())), "", 1);
        var html = StripParagraph(Html(inlineSource));
        string? detail = null;
        var rest = item.Skip(1).ToArray();
        if (rest.Length > 0)
        {
            foreach (var nested in rest)
            {
                CheckNoProbesOrItemsInside(nested, problems, "under an item");
            }

            detail = string.Concat(rest.Select(b => Html(Slice(source, b))));
        }

        if (text.Length == 0)
        {
            problems.Add($"Line {item.Line + 1}: an item needs a text.");
        }

        var key = Unique(keys, section.Key + "/" + Slug(text));
        return new ChecklistItem(key, text, html, detail, section.Role, section.Key);
    }

    private static void CheckNoProbesOrItemsInside(Block block, List<string> problems, string where)
    {
        foreach (var code in block.Descendants<FencedCodeBlock>())
        {
            if (string.Equals(code.Arguments?.Trim(), "probe", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"Line {code.Line + 1}: a probe {where} would not be run; put it at the start of a line in its section.");
            }
        }

        foreach (var task in block.Descendants<TaskList>())
        {
            problems.Add($"Line {task.Line + 1}: an item (- [ ]) {where} would not be tracked; put it in a list of its own.");
        }
    }

    private static bool HasTasks(ListBlock list) =>
        list.OfType<ListItemBlock>().Any(i => i.FirstOrDefault() is ParagraphBlock { Inline.FirstChild: TaskList });

    private static string StripParagraph(string html)
    {
        var trimmed = html.Trim();
        return trimmed.StartsWith("<p>", StringComparison.Ordinal) && trimmed.EndsWith("</p>", StringComparison.Ordinal)
            ? trimmed[3..^4]
            : trimmed;
    }

    private static string InlineTextOf(ListItemBlock item) =>
        item.FirstOrDefault() is ParagraphBlock paragraph ? InlineText(paragraph.Inline).Trim() : "";

    private static string InlineText(ContainerInline? container)
    {
        if (container is null)
        {
            return "";
        }

        var text = new StringBuilder();
        foreach (var inline in container)
        {
            switch (inline)
            {
                case TaskList:
                    break;
                case LiteralInline literal:
                    text.Append(literal.Content.ToString());
                    break;
                case CodeInline code:
                    text.Append(code.Content);
                    break;
                case LineBreakInline:
                    text.Append(' ');
                    break;
                case ContainerInline nested:
                    text.Append(InlineText(nested));
                    break;
            }
        }

        return text.ToString();
    }

    [GeneratedRegex(@"^\s*\[[ xX]\]\s*", RegexOptions.CultureInvariant)]
    private static partial Regex TaskMarker();
}
