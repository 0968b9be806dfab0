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
        foreach (var node in document.Descendants().ToList())
        {
            if (node.TryGetAttributes() is { } attributes)
            {
                Sanitize(attributes);
            }

            switch (node)
            {
                case LinkInline link when !IsSafeUrl(link.Url):
                    link.Url = "#";
                    break;
                // <scheme:...> is an autolink, not a LinkInline: one with an unsafe scheme stays as plain text.
                case AutolinkInline autolink when autolink.IsEmail || !IsSafeUrl(autolink.Url):
                    autolink.ReplaceBy(new LiteralInline(autolink.Url));
                    break;
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

    // In-app links (relative paths, anchors) and http(s) only: no javascript:, data:, vbscript: or mailto: URLs.
    // A URL with no scheme has no colon at all; anything else must name http or https.
    private static bool IsSafeUrl(string? url) =>
        url is null || !url.Contains(':', StringComparison.Ordinal)
        || url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
        || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,80}$")]
    private static partial Regex SafeToken();
}
