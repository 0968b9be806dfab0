using System.Collections.Concurrent;
using Microsoft.AspNetCore.Components.Rendering;
using Microsoft.AspNetCore.Components.RenderTree;
using MudBlazor;

namespace OpsConsole.Components.Shared;

/// <summary>
/// <see cref="MudThemeProvider"/> whose theme stylesheet is one string instance per distinct text, shared by every
/// circuit. MudBlazor builds it (11,600 characters of CSS variables, 23 KB) at every render of every open page and the
/// circuit keeps it in its current and previous render trees: up to 46 KB per open page for the same two texts (issue
/// 15, memory per open page). It is still built at each render, by MudBlazor, from the provider's own state (dark mode, the system's
/// preference); only the copy kept is the shared one. The markup is the same, which <c>SharedThemeProviderTests</c>
/// compares.
/// </summary>
public sealed class SharedThemeProvider : MudThemeProvider
{
    // A few texts: the scrollbar and chart styles, light and dark of the one theme. Bounded, in case themes were ever
    // made at run time.
    private const int MaxShared = 16;

    private static readonly ConcurrentDictionary<string, string> Stylesheets = new(StringComparer.Ordinal);

    protected override void BuildRenderTree(RenderTreeBuilder builder)
    {
        // MudBlazor's own render, into a scratch builder; its frames (markup and text only: style elements) are
        // copied with each markup string replaced by its shared instance. Should a later MudBlazor render anything
        // else, its render is used as it is.
        var scratch = new RenderTreeBuilder();
        base.BuildRenderTree(scratch);
#pragma warning disable BL0006, ASP0006 // Copying the frames this component itself just built, with their own (stable) sequence numbers.
        var frames = scratch.GetFrames();
        var copyable = true;
        for (var i = 0; i < frames.Count && copyable; i++)
        {
            copyable = frames.Array[i].FrameType is RenderTreeFrameType.Markup or RenderTreeFrameType.Text;
        }

        if (!copyable)
        {
            base.BuildRenderTree(builder);
            return;
        }

        for (var i = 0; i < frames.Count; i++)
        {
            var frame = frames.Array[i];
            if (frame.FrameType == RenderTreeFrameType.Markup)
            {
                builder.AddMarkupContent(frame.Sequence, Shared(frame.MarkupContent));
            }
            else
            {
                builder.AddContent(frame.Sequence, frame.TextContent);
            }
        }
#pragma warning restore BL0006, ASP0006
    }

    /// <summary>The shared instance of <paramref name="stylesheet"/>'s text (itself the first time).</summary>
    internal static string Shared(string stylesheet) =>
        Stylesheets.TryGetValue(stylesheet, out var shared) ? shared
        : Stylesheets.Count < MaxShared ? Stylesheets.GetOrAdd(stylesheet, stylesheet)
        : stylesheet;
}
