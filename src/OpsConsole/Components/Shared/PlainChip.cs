using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Rendering;
using MudBlazor;

namespace OpsConsole.Components.Shared;

/// <summary>
/// The markup a non-clickable <see cref="MudChip{T}"/> renders, as a fragment drawn in the caller's own render tree
/// rather than a component: a chip component costs each open page about 3 KB (its two render-tree buffers and its
/// state), and pages repeat chips per section, check or row (issue 15, memory per open page).
/// </summary>
public static class PlainChip
{
    /// <summary>
    /// A chip showing <paramref name="text"/>; <paramref name="testId"/> and <paramref name="cssClass"/> go where MudChip
    /// puts its attributes and Class.
    /// </summary>
    public static RenderFragment Of(string text, Color color = Color.Default, Variant variant = Variant.Filled, Size size = Size.Medium, string? testId = null, string? cssClass = null) => builder =>
    {
        Render(builder, text, color, variant, size, testId, cssClass);
    };

    private static void Render(RenderTreeBuilder builder, string text, Color color, Variant variant, Size size, string? testId, string? cssClass)
    {
        builder.OpenElement(0, "div");
        builder.AddAttribute(1, "class", "mud-chip-container");
        builder.OpenElement(2, "div");
        builder.AddAttribute(3, "class", $"mud-chip mud-chip-{variant.ToString().ToLowerInvariant()} mud-chip-size-{size.ToString().ToLowerInvariant()} mud-chip-color-{color.ToString().ToLowerInvariant()}{(cssClass is null ? "" : " " + cssClass)}");
        builder.AddAttribute(4, "data-testid", testId);
        builder.OpenElement(5, "span");
        builder.AddAttribute(6, "class", "mud-chip-content");
        builder.AddContent(7, text);
        builder.CloseElement();
        builder.CloseElement();
        builder.CloseElement();
    }
}
