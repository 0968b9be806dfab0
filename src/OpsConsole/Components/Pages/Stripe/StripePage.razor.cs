using Microsoft.AspNetCore.Components;
using OpsConsole.Auth;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Stripe;
using OpsConsole.Core.Database;
using CoreRefusal = OpsConsole.Core.Actions.Refusal;

namespace OpsConsole.Components.Pages.Stripe;

/// <summary>
/// Stripe deliveries, the refund queue, card checkouts and the background jobs. The page holds no SQL: the shared
/// <see cref="StripeOverview"/> reads one snapshot for all open pages, the duplicate rate comes from the metrics
/// sampler, and only a filtered delivery search is a query of its own. Actions take the current actor each time;
/// Core checks the permission.
/// </summary>
public sealed partial class StripePage : IDisposable
{
    /// <summary>The window of the duplicate rate shown here.</summary>
    public static readonly MetricsWindow DuplicateWindow = MetricsWindow.OneHour;

    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(5);
    private readonly CancellationTokenSource _stopping = new();
    private MetricsSubscription? _subscription;
    private StripeSnapshot? _snapshot;
    private KpiReading? _duplicates;
    private WebhookCounts? _webhooks;
    private IReadOnlyList<DeliveryRow> _deliveries = [];
    private IReadOnlyCollection<DeliveryOutcome> _outcomes = [];
    private string? _type;
    private string? _search;
    private CoreRefusal? _refusal;
    private string? _notice;
    private string? _error;
    private bool _busy;

    [Inject]
    private StripeOverview Overview { get; set; } = default!;

    [Inject]
    private StripeDeliveryLog Deliveries { get; set; } = default!;

    [Inject]
    private StripeRefunds Refunds { get; set; } = default!;

    [Inject]
    private StripeReplayer Replayer { get; set; } = default!;

    [Inject]
    private OpsActors Actors { get; set; } = default!;

    [Inject]
    private MetricsSampler Sampler { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    private DateTimeOffset Now => Time.GetUtcNow();

    private bool Filtered => _outcomes.Count > 0 || !string.IsNullOrWhiteSpace(_type) || !string.IsNullOrWhiteSpace(_search);

    /// <summary>A Stripe event to show (<c>/stripe?event=</c>, where the search box sends one): the deliveries are searched for it.</summary>
    [SupplyParameterFromQuery(Name = "event")]
    public string? EventId { get; set; }

    /// <summary>Anything the deliveries' search takes (<c>/stripe?q=</c>): an event, purchase or payment intent id.</summary>
    [SupplyParameterFromQuery(Name = "q")]
    public string? Query { get; set; }

    protected override async Task OnInitializedAsync()
    {
        _search = string.IsNullOrWhiteSpace(EventId) ? string.IsNullOrWhiteSpace(Query) ? null : Query.Trim() : EventId.Trim();
        if (!RendererInfo.IsInteractive)
        {
            return;
        }

        // Taken before the first await: a page left while it loads is disposed meanwhile, and a disposed source has no token.
        var stopping = _stopping.Token;
        _subscription = Sampler.Subscribe(DuplicateWindow, RefreshEvery, OnMetricsAsync, _ => Task.CompletedTask);
        await LoadAsync(fresh: false);
        _ = RefreshLoopAsync(stopping);
    }

    public void Dispose()
    {
        _subscription?.Dispose();
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task RefreshLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(RefreshEvery, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await InvokeAsync(async () =>
                {
                    await LoadAsync(fresh: false);
                    StateHasChanged();
                });
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task LoadAsync(bool fresh)
    {
        // One token for both reads: the page may be disposed between them (left while loading).
        var stopping = _stopping.Token;
        try
        {
            _snapshot = await Overview.GetAsync(fresh, stopping);
            _deliveries = Filtered
                ? await Deliveries.FindAsync(new DeliveryQuery(_outcomes, _type, _search), stopping)
                : _snapshot.Recent;
            _error = null;
        }
        catch (Exception error) when (DatabasePing.IsDatabaseFailure(error))
        {
            _error = error.Message;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private Task OnMetricsAsync(MetricsSnapshot snapshot) => InvokeAsync(() =>
    {
        _duplicates = snapshot[Kpi.WebhookDuplicateRate];
        _webhooks = snapshot.Readings.Webhooks;
        StateHasChanged();
    });

    private async Task OnOutcomesChanged(IEnumerable<DeliveryOutcome>? outcomes)
    {
        _outcomes = outcomes?.ToList() ?? [];
        await LoadAsync(fresh: false);
    }

    private async Task OnTypeChanged(string? type)
    {
        _type = type;
        await LoadAsync(fresh: false);
    }

    private async Task OnSearchChanged(string? search)
    {
        _search = search;
        await LoadAsync(fresh: false);
    }

    private async Task RefundAsync(Guid purchaseId)
    {
        await RunAsync(async actor =>
        {
            var result = await Refunds.IssueAsync(actor, purchaseId, _stopping.Token);
            if (result.Succeeded)
            {
                _notice = $"Refunded: Stripe refund {result.Value.RefundId} ({result.Value.Status}) for purchase {purchaseId}.";
            }

            return result.Refusal;
        });
    }

    private async Task ReplayAsync()
    {
        await RunAsync(async actor =>
        {
            var result = await Replayer.ReplayNowAsync(actor, _stopping.Token);
            if (result.Succeeded)
            {
                _notice = $"Replay done: {result.Value.Listed} events listed, {result.Value.Applied} applied"
                    + (result.Value.Error is { } error ? $"; Stripe: {error}" : ".");
            }

            return result.Refusal;
        });
    }

    private async Task RunAsync(Func<OpsActor, Task<CoreRefusal?>> action)
    {
        _busy = true;
        _refusal = null;
        _notice = null;
        try
        {
            // The actor as of this click: a demoted user acts as what they are now.
            _refusal = await action(await Actors.CurrentAsync(_stopping.Token));
            await LoadAsync(fresh: true);
        }
        finally
        {
            _busy = false;
        }
    }

    private string WebhookCounts() => _webhooks is { } w
        ? $"{StripeFormat.Count(w.Deliveries, "delivery", "deliveries")} of {StripeFormat.Count(w.Events, "event")} in the last hour, {StripeFormat.Count(w.Repeats, "repeat")}."
        : "";

    private string DeliveryCountsText()
    {
        if (_snapshot is not { LastHour: var counts } || counts.Total == 0)
        {
            return "no deliveries.";
        }

        return string.Join(", ", counts.ByOutcome.OrderByDescending(c => c.Value).Select(c => $"{c.Key.ToSql()} {c.Value}"))
            + $" ({StripeFormat.Count(counts.Total, "delivery", "deliveries")}).";
    }
}
