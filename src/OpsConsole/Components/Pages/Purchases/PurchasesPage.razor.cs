using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Metrics;
using OpsConsole.Database;

namespace OpsConsole.Components.Pages.Purchases;

/// <summary>
/// Live purchase metrics. The page asks nothing of the database itself: it subscribes to the instance's shared
/// <see cref="MetricsSampler"/>, which pushes one snapshot per refresh to every page watching the same window.
/// </summary>
public sealed partial class PurchasesPage : IDisposable
{
    private MetricsSubscription? _subscription;
    private MetricsWindow _window = MetricsWindow.FifteenMinutes;
    private RefreshOption _refresh = RefreshOption.Default;
    private MetricsSnapshot? _snapshot;

    [Inject]
    private MetricsSampler Sampler { get; set; } = default!;

    [Inject]
    private MetricsDataSource Source { get; set; } = default!;

    [Inject]
    private IOptions<MetricsOptions> Options { get; set; } = default!;


    /// <summary>Window to open with, as in <c>/purchases?window=1h</c>.</summary>
    [SupplyParameterFromQuery(Name = "window")]
    public string? WindowLabel { get; set; }

    protected override void OnInitialized()
    {
        if (MetricsWindow.TryParse(WindowLabel, out var window))
        {
            _window = window;
        }

        // A prerender is thrown away at once: only the interactive page subscribes.
        if (RendererInfo.IsInteractive)
        {
            _subscription = Sampler.Subscribe(_window, _refresh.Interval, OnSnapshotAsync, OnReadErrorAsync);
        }
    }

    public void Dispose() => _subscription?.Dispose();

    private void OnWindowChanged(MetricsWindow window)
    {
        _window = window;
        _subscription?.Change(_window, _refresh.Interval);
    }

    private void OnRefreshChanged(RefreshOption refresh)
    {
        _refresh = refresh;
        _subscription?.Change(_window, _refresh.Interval);
    }

    private Task OnSnapshotAsync(MetricsSnapshot snapshot) => InvokeAsync(() =>
    {
        _snapshot = snapshot;
        ClearReadError();
        StateHasChanged();
    });
}

/// <summary>A choice of the refresh picker.</summary>
/// <param name="Label">What the picker shows.</param>
/// <param name="Interval">How often the page gets a snapshot; null for off.</param>
public sealed record RefreshOption(string Label, TimeSpan? Interval)
{
    /// <summary>Every 5 seconds, the default.</summary>
    public static readonly RefreshOption Default = new("5 s", TimeSpan.FromSeconds(5));

    /// <summary>The picker's choices.</summary>
    public static IReadOnlyList<RefreshOption> All { get; } =
    [
        Default,
        new("10 s", TimeSpan.FromSeconds(10)),
        new("30 s", TimeSpan.FromSeconds(30)),
        new("1 min", TimeSpan.FromMinutes(1)),
        new("Off", null),
    ];
}
