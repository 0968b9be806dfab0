using Bunit;
using OpsConsole.Components.Shared.Charts;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Purchases;

/// <summary>The chart component's contract with its JS module: create once, update in place, destroy on dispose.</summary>
public sealed class ApexChartTests : ConsoleBunitContext
{
    private const string ModulePath = "./Components/Shared/Charts/ApexChart.razor.js";
    private readonly BunitJSObjectReferenceCalls _chart;

    public ApexChartTests()
    {
        JSInterop.Mode = JSRuntimeMode.Strict;
        // The handle "create" returns stands for the chart: what the component asks of it is recorded.
        var handle = JSInterop.SetupModule(ModulePath).SetupModule("create", _ => true);
        handle.SetupVoid("update", _ => true).SetVoidResult();
        handle.SetupVoid("destroy", _ => true).SetVoidResult();
        _chart = new BunitJSObjectReferenceCalls(handle);
    }

    [Fact]
    public async Task New_series_update_the_chart_in_place_and_disposal_destroys_it()
    {
        var chart = Render<ApexChart>(p => p.Add(c => c.Series, Series(1)).Add(c => c.Thresholds, [new ChartThreshold(1000, "alert", "red")]));

        Assert.Single(JSInterop.Invocations, i => i.Identifier == "create");
        Assert.Empty(_chart.Calls);

        chart.Render(p => p.Add(c => c.Series, Series(2)));
        chart.Render(p => p.Add(c => c.Series, Series(3)));

        Assert.Single(JSInterop.Invocations, i => i.Identifier == "create");
        Assert.Equal(["update", "update"], _chart.Calls);

        await DisposeComponentsAsync();

        Assert.Equal(["update", "update", "destroy"], _chart.Calls);
    }

    [Fact]
    public void Rendering_again_with_the_same_series_sends_nothing()
    {
        var series = Series(1);
        var chart = Render<ApexChart>(p => p.Add(c => c.Series, series));

        chart.Render(p => p.Add(c => c.Series, series));

        Assert.Empty(_chart.Calls);
    }

    [Fact]
    public void The_spec_carries_times_as_unix_milliseconds_and_missing_values_as_null()
    {
        var at = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Render<ApexChart>(p => p.Add(c => c.Series, [new ChartSeries("Average", [new ChartPoint(at, 12.5), new ChartPoint(at.AddMinutes(1), null)])]));

        var spec = System.Text.Json.JsonSerializer.Serialize(JSInterop.Invocations.Single(i => i.Identifier == "create").Arguments[1]);

        Assert.Contains($"[[{at.ToUnixTimeMilliseconds()},12.5],[{at.AddMinutes(1).ToUnixTimeMilliseconds()},null]]", spec, StringComparison.Ordinal);
    }

    private static IReadOnlyList<ChartSeries> Series(double value) =>
        [new ChartSeries("Purchases", [new ChartPoint(DateTimeOffset.UnixEpoch, value)], ChartSeriesKind.Column)];

    private sealed class BunitJSObjectReferenceCalls(BunitJSInterop handle)
    {
        public IReadOnlyList<string> Calls => handle.Invocations.Select(i => i.Identifier).ToList();
    }
}
