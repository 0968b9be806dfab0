using System.Globalization;
using System.Text.RegularExpressions;
using Markdig.Renderers.Html;
using Markdig.Syntax;

namespace OpsConsole.Core.Deployments;

public static partial class RunbookParser
{
    // Sections: headings, their {#id role=...} attributes, roles inherited by subsections, keys and contact fields.
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

    // A section from its heading: the anchor from {#id} or the heading's text, the role from role=... or the
    // enclosing section's.
    private static SectionBuilder Section(
        HeadingBlock heading, string text, Stack<(int Level, SectionRole Role)> roles, HashSet<string> keys, List<string> problems)
    {
        var attributes = heading.TryGetAttributes();
        var role = InheritedRole(roles, heading.Level);
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

        roles.Push((heading.Level, role));
        var key = attributes?.Id is { Length: > 0 } id ? id : Slug(text);
        if (!keys.Add(key))
        {
            if (attributes?.Id is { Length: > 0 })
            {
                problems.Add($"Line {heading.Line + 1}: the section id '{key}' is used twice.");
            }

            key = Unique(keys, key);
        }

        return new SectionBuilder(key, text, heading.Level, role);
    }

    // A contacts section's plain list: one field per "Label: value" line.
    private static IEnumerable<ContactField> ContactFields(ListBlock list, HashSet<string> keys, List<string> problems)
    {
        var fields = new List<ContactField>();
        foreach (var item in list.OfType<ListItemBlock>())
        {
            var (label, value) = SplitField(InlineTextOf(item));
            if (label.Length == 0)
            {
                problems.Add($"Line {item.Line + 1}: a contact field needs a label.");
                continue;
            }

            fields.Add(new ContactField(Unique(keys, "contact-" + Slug(label)), label, value));
        }

        return fields;
    }

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

    private sealed class SectionBuilder(string key, string title, int level, SectionRole role)
    {
        public string Key { get; } = key;

        public string Title { get; } = title;

        public SectionRole Role { get; } = role;

        public List<RunbookBlock> Blocks { get; } = [];

        public RunbookSection Build() => new(Key, Title, level, Role, Blocks);
    }
}
