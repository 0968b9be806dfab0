using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;

namespace OpsConsole.Components.Shared.Charts;

/// <summary>
/// A time-series chart over ApexCharts (wwwroot-assets/apexcharts). Created once after the first render; new
/// parameters update its series, axes and threshold lines in place; destroyed when the component goes away.
/// </summary>
public partial class ApexChart : IAsyncDisposable
{
    private const string ModulePath = "./Components/Shared/Charts/ApexChart.razor.js";

    private ElementReference _host;
    private IJSObjectReference? _module;
    private IJSObjectReference? _chart;
    private object? _seenSeries;
    private object? _seenAxes;
    private object? _seenThresholds;
    private bool _seenDarkMode;
    private int _version;
    private int _shownVersion = -1;
    private bool _disposed;

    /// <summary>The series, each against one of <see cref="Axes"/>. A new list (not a mutated one) updates the chart.</summary>
    [Parameter, EditorRequired]
    public required IReadOnlyList<ChartSeries> Series { get; set; }

    /// <summary>The y axes; one unnamed axis from 0 when not set.</summary>
    [Parameter]
    public IReadOnlyList<ChartAxis> Axes { get; set; } = [new ChartAxis("")];

    /// <summary>Horizontal lines drawn whatever the data.</summary>
    [Parameter]
    public IReadOnlyList<ChartThreshold> Thresholds { get; set; } = [];

    /// <summary>Whether the console shows its dark theme: axes, legend, grid and tooltip follow it.</summary>
    [CascadingParameter(Name = ChartTheme.DarkModeCascade)]
    public bool DarkMode { get; set; }

    /// <summary>CSS height of the chart.</summary>
    [Parameter]
    public string Height { get; set; } = "320px";

    /// <summary>Attributes for the chart's element (class, data-testid, aria-label...).</summary>
    [Parameter(CaptureUnmatchedValues = true)]
    public IReadOnlyDictionary<string, object>? AdditionalAttributes { get; set; }

    protected override void OnParametersSet()
    {
        if (!ReferenceEquals(_seenSeries, Series) || !ReferenceEquals(_seenAxes, Axes) || !ReferenceEquals(_seenThresholds, Thresholds)
            || _seenDarkMode != DarkMode)
        {
            _seenSeries = Series;
            _seenAxes = Axes;
            _seenThresholds = Thresholds;
            _seenDarkMode = DarkMode;
            _version++;
        }
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (firstRender)
        {
            _module = await JS.InvokeAsync<IJSObjectReference>("import", ModulePath);
            _shownVersion = _version;
            var chart = await _module.InvokeAsync<IJSObjectReference>("create", _host, Spec());
            if (_disposed)
            {
                await DestroyAsync(chart);
                return;
            }

            _chart = chart;
        }

        if (_chart is not null && _shownVersion != _version)
        {
            _shownVersion = _version;
            await _chart.InvokeVoidAsync("update", Spec());
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        if (_chart is not null)
        {
            await DestroyAsync(_chart);
            _chart = null;
        }

        if (_module is not null)
        {
            try
            {
                await _module.DisposeAsync();
            }
            catch (JSDisconnectedException)
            {
                // The circuit is gone, and the browser's page with it.
            }
        }
    }

    private static async Task DestroyAsync(IJSObjectReference chart)
    {
        try
        {
            await chart.InvokeVoidAsync("destroy");
            await chart.DisposeAsync();
        }
        catch (JSDisconnectedException)
        {
            // The circuit is gone, and the browser's page with it.
        }
    }

    // What the JS module receives: plain numbers, times as Unix milliseconds.
    private object Spec() => new
    {
        series = Series.Select(s => new
        {
            name = s.Name,
            kind = s.Kind.ToString().ToLowerInvariant(),
            axis = s.Axis,
            color = s.Color,
            data = s.Points.Select(p => new object?[] { p.X.ToUnixTimeMilliseconds(), p.Y }).ToArray(),
        }).ToArray(),
        axes = Axes.Select(a => new { title = a.Title, decimals = a.Decimals, opposite = a.Opposite, min = a.Min, max = a.Max }).ToArray(),
        theme = ChartTheme.For(DarkMode),
        thresholds = Thresholds.Select(t => new { y = t.Y, label = t.Label, color = t.Color, axis = t.Axis, dashed = t.Dashed }).ToArray(),
    };

    [Inject]
    private IJSRuntime JS { get; set; } = default!;
}
