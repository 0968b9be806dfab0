using System.Security.Cryptography;
using System.Text;
using Markdig;
using Markdig.Syntax;

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

    /// <summary>The template version of <paramref name="markdown"/>: SHA-256 (hex, lower case) of its text with <c>\n</c> line endings.</summary>
    public static string VersionOf(string markdown) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Normalize(markdown))));

    /// <summary>Parses <paramref name="markdown"/>, the runbook named <paramref name="slug"/>.</summary>
    /// <exception cref="RunbookParseException">The Markdown breaks a rule; the exception lists every problem.</exception>
    public static Runbook Parse(string slug, string markdown)
    {
        var reader = new Reader(Normalize(markdown));
        foreach (var block in Markdown.Parse(reader.Source, Pipeline))
        {
            reader.Read(block);
        }

        return reader.Finish(slug, markdown);
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

    // What Parse has read so far: the title, the sections (the last one still open), the contact fields, the prose
    // before the first section, every key handed out (keys are unique across sections, items and probes) and every
    // problem found (all are reported at once).
    private sealed class Reader(string source)
    {
        private readonly Stack<(int Level, SectionRole Role)> _roles = new();
        private readonly List<RunbookSection> _sections = [];
        private readonly List<ContactField> _contactFields = [];
        private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
        private readonly List<string> _problems = [];
        private readonly StringBuilder _intro = new();
        private SectionBuilder? _current;
        private string? _title;

        public string Source { get; } = source;

        public void Read(Block block)
        {
            if (block is HeadingBlock heading)
            {
                ReadHeading(heading);
            }
            else if (_current is null)
            {
                CheckNoProbesOrItemsInside(block, _problems, "before the first section");
                _intro.Append(Html(Slice(Source, block)));
            }
            else
            {
                ReadContent(block, _current);
            }
        }

        public Runbook Finish(string slug, string markdown)
        {
            CloseSection();
            if (_title is null)
            {
                _problems.Add("Line 1: the runbook needs a level-1 heading (# Title).");
            }

            if (_sections.Count == 0)
            {
                _problems.Add("The runbook has no sections (## headings).");
            }

            if (_problems.Count > 0)
            {
                throw new RunbookParseException(slug, _problems);
            }

            return new Runbook(slug, _title!, VersionOf(markdown), markdown, _intro.ToString(), _sections, _contactFields);
        }

        // The level-1 heading is the title; every deeper one closes the open section and opens the next.
        private void ReadHeading(HeadingBlock heading)
        {
            var text = InlineText(heading.Inline).Trim();
            if (heading.Level == 1)
            {
                if (_title is not null)
                {
                    _problems.Add($"Line {heading.Line + 1}: a second level-1 heading ('{text}'); a runbook has one title.");
                }

                _title ??= text;
                return;
            }

            CloseSection();
            _current = Section(heading, text, _roles, _keys, _problems);
        }

        private void ReadContent(Block block, SectionBuilder section)
        {
            switch (block)
            {
                case FencedCodeBlock code:
                    section.Blocks.Add(CodeBlock(code, section, _keys, _problems));
                    break;
                case ListBlock list when section.Role == SectionRole.Contacts && !HasTasks(list):
                    _contactFields.AddRange(ContactFields(list, _keys, _problems));
                    break;
                case ListBlock list when HasTasks(list):
                    foreach (var item in list.OfType<ListItemBlock>())
                    {
                        section.Blocks.Add(Item(Source, item, section, _keys, _problems));
                    }

                    break;
                default:
                    CheckNoProbesOrItemsInside(block, _problems, "inside other content");
                    section.Blocks.Add(new ProseBlock(Html(Slice(Source, block))));
                    break;
            }
        }

        private void CloseSection()
        {
            if (_current is not null)
            {
                _sections.Add(_current.Build());
                _current = null;
            }
        }
    }
}
