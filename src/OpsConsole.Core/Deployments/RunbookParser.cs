using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Markdig;
using Markdig.Extensions.TaskLists;
using Markdig.Renderers.Html;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace OpsConsole.Core.Deployments;

/// <summary>A runbook's Markdown breaks one of the rules of <see cref="RunbookParser"/>; every problem is listed.</summary>
public sealed class RunbookParseException(string slug, IReadOnlyList<string> problems)
    : Exception($"Runbook '{slug}' cannot be used: " + string.Join(" ", problems))
{
    /// <summary>The runbook's name.</summary>
    public string Slug { get; } = slug;

    /// <summary>Each problem, with its line number.</summary>
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>
/// Turns a runbook written in Markdown into a <see cref="Runbook"/> with Markdig: the level-1 heading is the
/// title, every deeper heading a section (<c>{#id role=...}</c> after it sets its anchor and role), <c>- [ ]</c>
/// lines are items, <c>```sql probe</c> blocks are probes with the expectation of their last
/// <c>-- Should ...</c> comment, other code blocks are commands, and the rest is prose rendered to HTML with
/// raw HTML disabled (a runbook added by hand cannot put script into the page).
/// </summary>
public static partial class RunbookParser
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .UseTaskLists()
        .UsePipeTables()
        .DisableHtml()
        // Last, as Markdig asks: it reads the {...} that the other parsers leave behind.
        .UseGenericAttributes()
        .Build();

    private static readonly Dictionary<string, SectionRole> Roles = new(StringComparer.OrdinalIgnoreCase)
    {
        ["contacts"] = SectionRole.Contacts,
        ["pre-deployment"] = SectionRole.PreDeployment,
        ["steps"] = SectionRole.Steps,
        ["migration-verification"] = SectionRole.MigrationVerification,
        ["verification"] = SectionRole.Verification,
        ["monitoring"] = SectionRole.Monitoring,
        ["rollback"] = SectionRole.Rollback,
        ["final-checklist"] = SectionRole.FinalChecklist,
        ["sign-off"] = SectionRole.SignOff,
        ["notes"] = SectionRole.Notes,
        ["reference"] = SectionRole.Reference,
    };

    /// <summary>The template version of <paramref name="markdown"/>: SHA-256 (hex, lower case) of its text with <c>\n</c> line endings.</summary>
    public static string VersionOf(string markdown) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Normalize(markdown))));

    /// <summary>Parses <paramref name="markdown"/>, the runbook named <paramref name="slug"/>.</summary>
    /// <exception cref="RunbookParseException">The Markdown breaks a rule; the exception lists every problem.</exception>
    public static Runbook Parse(string slug, string markdown)
    {
        var source = Normalize(markdown);
        var document = Markdown.Parse(source, Pipeline);
        var problems = new List<string>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var sections = new List<RunbookSection>();
        var contactFields = new List<ContactField>();
        var intro = new StringBuilder();
        string? title = null;

        var roleStack = new Stack<(int Level, SectionRole Role)>();
        SectionBuilder? current = null;

        foreach (var block in document)
        {
            if (block is HeadingBlock heading)
            {
                var text = InlineText(heading.Inline).Trim();
                if (heading.Level == 1)
                {
                    if (title is not null)
                    {
                        problems.Add($"Line {heading.Line + 1}: a second level-1 heading ('{text}'); a runbook has one title.");
                    }

                    title ??= text;
                    continue;
                }

                if (current is not null)
                {
                    sections.Add(current.Build());
                }

                var attributes = heading.TryGetAttributes();
                var role = InheritedRole(roleStack, heading.Level);
                var roleName = attributes?.Properties?.FirstOrDefault(p => p.Key == "role").Value;
                if (roleName is not null)
                {
                    if (Roles.TryGetValue(roleName, out var named))
                    {
                        role = named;
                    }
                    else
                    {
                        problems.Add($"Line {heading.Line + 1}: unknown role '{roleName}'; known roles: {string.Join(", ", Roles.Keys)}.");
                    }
                }

                roleStack.Push((heading.Level, role));
                var key = attributes?.Id is { Length: > 0 } id ? id : Slug(text);
                if (!keys.Add(key))
                {
                    if (attributes?.Id is { Length: > 0 })
                    {
                        problems.Add($"Line {heading.Line + 1}: the section id '{key}' is used twice.");
                    }

                    key = Unique(keys, key);
                }

                current = new SectionBuilder(key, text, heading.Level, role);
                continue;
            }

            if (current is null)
            {
                CheckNoProbesOrItemsInside(block, problems, "before the first section");
                intro.Append(Html(Slice(source, block)));
                continue;
            }

            switch (block)
            {
                case FencedCodeBlock code:
                    current.Blocks.Add(CodeBlock(code, current, keys, problems));
                    break;
                case ListBlock list when current.Role == SectionRole.Contacts && !HasTasks(list):
                    foreach (var item in list.OfType<ListItemBlock>())
                    {
                        var (label, value) = SplitField(InlineTextOf(item));
                        if (label.Length == 0)
                        {
                            problems.Add($"Line {item.Line + 1}: a contact field needs a label.");
                            continue;
                        }

                        contactFields.Add(new ContactField(Unique(keys, "contact-" + Slug(label)), label, value));
                    }

                    break;
                case ListBlock list when HasTasks(list):
                    foreach (var item in list.OfType<ListItemBlock>())
                    {
                        current.Blocks.Add(Item(source, item, current, keys, problems));
                    }

                    break;
                default:
                    CheckNoProbesOrItemsInside(block, problems, "inside other content");
                    current.Blocks.Add(new ProseBlock(Html(Slice(source, block))));
                    break;
            }
        }

        if (current is not null)
        {
            sections.Add(current.Build());
        }

        if (title is null)
        {
            problems.Add("Line 1: the runbook needs a level-1 heading (# Title).");
        }

        if (sections.Count == 0)
        {
            problems.Add("The runbook has no sections (## headings).");
        }

        if (problems.Count > 0)
        {
            throw new RunbookParseException(slug, problems);
        }

        return new Runbook(slug, title!, VersionOf(markdown), markdown, intro.ToString(), sections, contactFields);
    }

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

    private static SectionRole InheritedRole(Stack<(int Level, SectionRole Role)> stack, int level)
    {
        while (stack.Count > 0 && stack.Peek().Level >= level)
        {
            stack.Pop();
        }

        return stack.Count > 0 ? stack.Peek().Role : SectionRole.None;
    }

    private static (string Label, string Value) SplitField(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? (text.Trim(), "") : (text[..colon].Trim(), text[(colon + 1)..].Trim());
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

    private static string Normalize(string markdown) => markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');

    // The block's source from the start of its first line, with the indentation common to its lines removed,
    // so that a nested list or an indented code block renders as it reads.
    private static string Slice(string source, Block block)
    {
        var start = block.Span.Start;
        var lineStart = start == 0 ? 0 : source.LastIndexOf('\n', start - 1) + 1;
        var end = Math.Min(block.Span.End + 1, source.Length);
        var lines = source[lineStart..end].Split('\n');
        var indent = lines.Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart(' ').Length).DefaultIfEmpty(0).Min();
        return string.Join('\n', lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart(' ')));
    }

    private static string Html(string markdown)
    {
        var document = Markdown.Parse(markdown, Pipeline);
        foreach (var node in document.Descendants())
        {
            if (node.TryGetAttributes() is { } attributes)
            {
                Sanitize(attributes);
            }

            if (node is LinkInline link && !IsSafeUrl(link.Url))
            {
                link.Url = "#";
            }
        }

        return document.ToHtml(Pipeline);
    }

    // The generic-attributes extension lets a runbook write {#id .class key=value} after any block or inline, and
    // renders every key as an HTML attribute (onclick, style, href...). Only an id and classes made of plain
    // characters are kept: a runbook dropped into the folder by hand cannot script or restyle the page.
    private static void Sanitize(HtmlAttributes attributes)
    {
        attributes.Properties?.Clear();
        if (attributes.Id is { } id && !SafeToken().IsMatch(id))
        {
            attributes.Id = null;
        }

        attributes.Classes?.RemoveAll(c => !SafeToken().IsMatch(c));
    }

    // Relative links, anchors and http(s)/mailto only: no javascript: or data: URLs.
    private static bool IsSafeUrl(string? url) =>
        url is null || !url.Contains(':', StringComparison.Ordinal)
        || url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
        || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || url.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,80}$")]
    private static partial Regex SafeToken();

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

    /// <summary>A lower-case, hyphenated form of <paramref name="text"/>, at most 60 characters.</summary>
    internal static string Slug(string text)
    {
        var slug = NonWord().Replace(text.ToLowerInvariant(), "-").Trim('-');
        if (slug.Length > 60)
        {
            slug = slug[..60].TrimEnd('-');
        }

        return slug.Length == 0 ? "section" : slug;
    }

    private static string Unique(HashSet<string> keys, string key)
    {
        if (keys.Add(key))
        {
            return key;
        }

        for (var n = 2; ; n++)
        {
            var candidate = key + "-" + n.ToString(CultureInfo.InvariantCulture);
            if (keys.Add(candidate))
            {
                return candidate;
            }
        }
    }

    [GeneratedRegex(@"[^a-z0-9]+", RegexOptions.CultureInvariant)]
    private static partial Regex NonWord();

    [GeneratedRegex(@"^\s*\[[ xX]\]\s*", RegexOptions.CultureInvariant)]
    private static partial Regex TaskMarker();

    private sealed class SectionBuilder(string key, string title, int level, SectionRole role)
    {
        public string Key { get; } = key;

        public string Title { get; } = title;

        public SectionRole Role { get; } = role;

        public List<RunbookBlock> Blocks { get; } = [];

        public RunbookSection Build() => new(Key, Title, level, Role, Blocks);
    }
}
