using System.Text.RegularExpressions;
using Markdig;
using Markdig.Renderers.Html;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace OpsConsole.Core.Deployments;

public static partial class RunbookParser
{
    // Prose: Markdown rendered to HTML with raw HTML off and what the attribute extension produces sanitized.
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
}
