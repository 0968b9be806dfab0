using AngleSharp.Dom;
using Bunit;
using Microsoft.AspNetCore.Components;

namespace OpsConsole.Tests.Infrastructure;

/// <summary>
/// Finds an element and raises its event in one turn of the renderer's dispatcher (bUnit's own advice for this).
/// The console's pages re-render on their own (samplers, change events, timers): an element found on the test's
/// thread and clicked a moment later can carry an event handler id the re-rendered tree no longer has ("There is no
/// event handler with ID '37'"), which failed a loaded CI run (<c>StripePageTests</c>). As with bUnit's
/// <c>Click()</c>, the handler is started, not awaited to its end (it may wait on a dialog the test answers next);
/// what it throws surfaces at the test's next wait. bUnit's own dispatchers are banned elsewhere (BannedSymbols.txt).
/// </summary>
#pragma warning disable RS0030 // The one place that calls bUnit's dispatchers, inside the dispatcher's turn.
internal static class LiveDispatch
{
    public static Task FindAndClickAsync<T>(this IRenderedComponent<T> cut, string selector) where T : IComponent =>
        cut.InvokeAsync(() => cut.Find(selector).Click());

    /// <summary>The same for an element a selector alone does not name: <paramref name="find"/> runs in the dispatcher's turn.</summary>
    public static Task FindAndClickAsync<T>(this IRenderedComponent<T> cut, Func<IRenderedComponent<T>, IElement> find) where T : IComponent =>
        cut.InvokeAsync(() => find(cut).Click());

    public static Task FindAndChangeAsync<T, TValue>(this IRenderedComponent<T> cut, string selector, TValue value) where T : IComponent =>
        cut.InvokeAsync(() => cut.Find(selector).Change(value));

    public static Task FindAndChangeAsync<T, TValue>(this IRenderedComponent<T> cut, Func<IRenderedComponent<T>, IElement> find, TValue value) where T : IComponent =>
        cut.InvokeAsync(() => find(cut).Change(value));

    public static Task FindAndInputAsync<T>(this IRenderedComponent<T> cut, string selector, string value) where T : IComponent =>
        cut.InvokeAsync(() => cut.Find(selector).Input(value));
}
#pragma warning restore RS0030
