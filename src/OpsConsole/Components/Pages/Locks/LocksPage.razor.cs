using System.Globalization;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;
using OpsConsole.Auth;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Exports;
using OpsConsole.Core.Locks;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Database;
using CoreRefusal = OpsConsole.Core.Actions.Refusal;

namespace OpsConsole.Components.Pages.Locks;

/// <summary>
/// The lock view. It asks nothing of the database itself: it subscribes to the instance's shared
/// <see cref="LockSampler"/>, ticks the wait times between samples, and sends cancel and terminate to Core, which
/// checks the actor, the session and the reason again.
/// </summary>
public sealed partial class LocksPage
{
    private static readonly IReadOnlyList<CsvColumn<LockGridRow>> CsvColumns =
    [
        new("pid", r => r.Pid),
        new("granted", r => r.Granted),
        new("mode", r => r.Mode),
        new("type", r => r.LockType),
        new("on", r => r.Target),
        new("relation", r => r.Relation),
        new("waiting_seconds", r => r.WaitSeconds),
        new("application", r => r.Application),
        new("user", r => r.User),
        new("state", r => r.State),
        new("query", r => r.FullQuery),
    ];

    private readonly CancellationTokenSource _stopping = new();
    private LockSubscription? _subscription;
    private LockSnapshot? _snapshot;
    private LockSnapshot? _lastGood;
    private LockSnapshot? _pending;
    private DateTimeOffset _receivedAt;
    private bool _paused;
    private CoreRefusal? _refusal;
    private string? _done;
    private MetricsWindow _window = MetricsWindow.FifteenMinutes;
    private IReadOnlyList<LockHistoryPoint> _history = [];
    private readonly LockGridQuery _gridQuery = new();
    private IJSObjectReference? _module;
    private LockSnapshot? _gridOf;
    private List<LockGridRow> _gridRows = [];

    /// <summary>A backend to look at (<c>/locks?pid=</c>, where the search box sends a pid): highlighted, the grid filtered to it.</summary>
    [SupplyParameterFromQuery(Name = "pid")]
    public int? FocusPid { get; set; }

    [Inject]
    private LockSampler Sampler { get; set; } = default!;

    [Inject]
    private BackendActions Actions { get; set; } = default!;

    [Inject]
    private OpsActors Actors { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;


    /// <summary>What the page draws: the latest complete snapshot (the last good one while the view times out).</summary>
    private LockSnapshot? Shown => _snapshot is { TimedOut: null } ? _snapshot : _lastGood;

    protected override void OnInitialized()
    {
        if (FocusPid is { } pid)
        {
            _gridQuery.Pid = pid.ToString(CultureInfo.InvariantCulture);
        }

        // A prerender is thrown away at once: only the interactive page subscribes.
        if (RendererInfo.IsInteractive)
        {
            _subscription = Sampler.Subscribe(OnSnapshotAsync, OnReadErrorAsync);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _subscription?.Dispose();
        await _stopping.CancelAsync();
        _stopping.Dispose();
        if (_module is not null)
        {
            try
            {
                await _module.DisposeAsync();
            }
            catch (JSDisconnectedException)
            {
            }
        }
    }

    private async Task OnSnapshotAsync(LockSnapshot snapshot)
    {
        IReadOnlyList<LockHistoryPoint>? history = null;
        try
        {
            history = await Sampler.GetHistoryAsync(_window, _stopping.Token);
        }
        catch (Exception error) when (DatabasePing.IsDatabaseFailure(error) || error is OperationCanceledException)
        {
            // The chart keeps its last points; the snapshot still shows.
        }

        await InvokeAsync(() =>
        {
            if (_paused)
            {
                _pending = snapshot;
                return;
            }

            Show(snapshot);
            _history = history ?? _history;
            StateHasChanged();
        });
    }

    private void Show(LockSnapshot snapshot)
    {
        _snapshot = snapshot;
        _receivedAt = Time.GetUtcNow();
        ClearReadError();
        if (snapshot.TimedOut is null)
        {
            _lastGood = snapshot;
        }
    }

    private void TogglePause()
    {
        _paused = !_paused;
        if (!_paused && _pending is { } pending)
        {
            _pending = null;
            Show(pending);
        }
    }

    private async Task OnWindowChangedAsync(MetricsWindow window)
    {
        _window = window;
        try
        {
            _history = await Sampler.GetHistoryAsync(window, _stopping.Token);
        }
        // The database did not answer: kept as the notice, the chart keeps its last points.
        catch (Exception error) when (RecordReadError(error))
        {
        }
    }

    private async Task ActAsync(LockSnapshot view, LockSession session, BackendAction action)
    {
        _refusal = null;
        _done = null;
        var parameters = new DialogParameters<LockActionDialog>
        {
            { d => d.Session, session },
            { d => d.Action, action },
            { d => d.Blocked, view.BlockedBy(session.Pid) },
        };
        var dialog = await Dialogs.ShowAsync<LockActionDialog>(null, parameters, new DialogOptions { MaxWidth = MaxWidth.Medium, FullWidth = true });
        var answer = await dialog.Result;
        if (answer is not { Canceled: false, Data: string reason })
        {
            return;
        }

        var actor = await Actors.CurrentAsync(_stopping.Token);
        var result = await Actions.SignalAsync(actor, action, new BackendRef(session.Pid, session.BackendStart), reason, _stopping.Token);
        if (result.Refusal is { } refusal)
        {
            _refusal = refusal;
            return;
        }

        var record = result.Value;
        _done = $"{(action == BackendAction.Terminate ? "Terminated" : "Cancelled the query of")} session {record.Pid}"
            + (record.BlockedPids.Count == 0 ? "." : $"; it blocked {string.Join(", ", record.BlockedPids.Select(p => $"pid {p}"))}.")
            + " Recorded with your reason.";
    }

    private async Task ExportAsync()
    {
        var rows = _gridQuery.Filtered(Shown is { } view ? GridRows(view) : []);
        var csv = CsvExport.Write(rows, CsvColumns);
        var at = (Shown?.TakenAt ?? Time.GetUtcNow()).UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        await (await ModuleAsync()).InvokeVoidAsync("download", _stopping.Token, $"locks-{at}.csv", "text/csv", csv);
    }

    private async Task<IJSObjectReference> ModuleAsync() =>
        _module ??= await JS.InvokeAsync<IJSObjectReference>("import", _stopping.Token, "./js/copy-download.js");

    private IReadOnlyList<LockGridRow> GridRows(LockSnapshot view)
    {
        if (!ReferenceEquals(_gridOf, view))
        {
            _gridOf = view;
            _gridRows = [.. view.Locks.Select(l => LockGridRow.From(l, view))];
        }

        return _gridRows;
    }

    // Setting a filter also goes back to the first page (LockGridQuery), since the page shown may no longer exist.
    private void SetGrantedFilter(ChangeEventArgs e) =>
        _gridQuery.Granted = Enum.TryParse<LockGrantedFilter>(e.Value as string, out var granted) ? granted : LockGrantedFilter.All;

    private static string AriaSort(LockSortDirection direction) => direction switch
    {
        LockSortDirection.Ascending => "ascending",
        LockSortDirection.Descending => "descending",
        _ => "none",
    };

    // Wait times stand still while paused, and while the view shown is not the latest (it timed out since).
    private bool Frozen => _paused || _snapshot is { TimedOut: not null };

    private static string EdgeText(LockSnapshot view, BlockingNode node) => node.Edge switch
    {
        BlockingEdge.Root => view.ByPid.ContainsKey(node.Pid) ? (view.ByPid[node.Pid].IsWaiting ? "in a cycle" : "blocks, waits for nobody") : "outside this database's sessions",
        BlockingEdge.Holds => "waits for the lock held above",
        BlockingEdge.QueuedBehind => "queued behind the session above, which is itself waiting",
        _ => "already above: the cycle closes here",
    };

    internal static string Duration(TimeSpan value) => value.TotalSeconds switch
    {
        < 60 => $"{value.TotalSeconds:0} s",
        < 3600 => $"{(int)value.TotalMinutes} min {value.Seconds:00} s",
        < 86400 => $"{(int)value.TotalHours} h {value.Minutes:00} min",
        _ => $"{value.TotalDays:0.#} days",
    };
}
