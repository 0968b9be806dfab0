using System.Runtime.CompilerServices;

namespace OpsConsole.Components.Shared.Charts;

/// <summary>
/// Chart series built once per source and shared by every open page that shows it: the samplers hand all their
/// subscribers the same snapshot (metrics readings, lock history), so a page's series of it are the same for every
/// page. Kept as long as the source is (a weak table), so nothing outlives the snapshot it was drawn from.
/// </summary>
public static class SharedSeries
{
    /// <summary>The series of <paramref name="source"/>, built by <paramref name="build"/> the first time any page asks.</summary>
    public static IReadOnlyList<ChartSeries> Of<TSource>(TSource source, Func<TSource, IReadOnlyList<ChartSeries>> build)
        where TSource : class =>
        Table<TSource>.Series.GetValue(source, s => build(s));

    private static class Table<TSource>
        where TSource : class
    {
        public static readonly ConditionalWeakTable<TSource, IReadOnlyList<ChartSeries>> Series = new();
    }
}
