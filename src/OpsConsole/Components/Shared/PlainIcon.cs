using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Components;

namespace OpsConsole.Components.Shared;

/// <summary>
/// The <c>&lt;svg&gt;</c> a <see cref="MudBlazor.MudIcon"/> renders, as markup: one render-tree frame in the caller's
/// tree rather than a component, or an element and its five attributes (issue 15, memory per open page). One string
/// per icon and classes, shared by every page that shows it.
/// </summary>
public static class PlainIcon
{
    private static readonly ConcurrentDictionary<(string Icon, string Classes, string? Label), MarkupString> Markup = new();

    /// <summary>
    /// <paramref name="icon"/> (one of MudBlazor's <c>Icons</c>) with MudIcon's classes and <paramref name="classes"/>;
    /// decorative (hidden from screen readers) unless it has a <paramref name="label"/>.
    /// </summary>
    public static MarkupString Of(string icon, string classes, string? label = null) =>
        Markup.GetOrAdd((icon, classes, label), static key => new(
            $"""<svg class="mud-icon-root mud-svg-icon {key.Classes}" focusable="false" viewBox="0 0 24 24" {(key.Label is null ? "aria-hidden=\"true\"" : $"role=\"img\" aria-label=\"{WebUtility.HtmlEncode(key.Label)}\"")}>{key.Icon}</svg>"""));
}
