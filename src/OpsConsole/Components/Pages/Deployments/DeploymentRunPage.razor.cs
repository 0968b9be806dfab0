using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;
using OpsConsole.Auth;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Deployments;

namespace OpsConsole.Components.Pages.Deployments;

/// <summary>
/// One deployment run. Every action goes to <see cref="IDeploymentService"/> with the actor as the sign-in is at that
/// moment (<see cref="OpsActors.CurrentAsync"/>, never one cached when the page opened); a refusal is
/// shown with its reason and the page reloads the run, so it always shows the current state. Changes by others
/// arrive through <see cref="DeploymentEventHub"/> (LISTEN/NOTIFY across instances) and reload the run.
/// </summary>
public partial class DeploymentRunPage
{
    private readonly CancellationTokenSource _stopping = new();
    private DeploymentRun? _run;
    private IDisposable? _subscription;
    private IJSObjectReference? _module;
    private Refusal? _refusal;
    // Refusals of a signature or an item change, shown beside the button or item that asked (not at the page's top).
    private SignRefusal? _signRefusal;
    private (string ItemKey, Refusal Refusal)? _itemRefusal;
    private OpsActor? _actor;
    private string? _lastChange;
    private string? _note;
    private bool _busy;
    private RunOutline? _outline;
    // Folds the reader set; a part neither opened nor folded by them follows RunOutline.OpensByDefault. A part folded
    // while finished (the value) opens again by itself once someone reopens an item in it.
    private readonly HashSet<string> _opened = [];
    private readonly Dictionary<string, bool> _folded = [];
    private readonly HashSet<string> _openReference = [];
    private bool _timelineOpen;
    private string? _revealed;
    private readonly Dictionary<string, ChecklistItemRow> _rows = [];

    // The copy button's label and icon as one markup frame (in every command block of every open tab).
    private static readonly MarkupString CopyIcon = new(
        $"""<span class="mud-icon-button-label">{Components.Shared.PlainIcon.Of(Icons.Material.Filled.ContentCopy, "mud-inherit-text mud-icon-size-small")}</span>""");
    private IReadOnlyList<(Probe Probe, ProbeExecution Execution)> _failedChecks = [];
    private int _checksRun;
    private IJSObjectReference? _keysModule;
    private IJSObjectReference? _keys;
    private DotNetObjectReference<DeploymentRunPage>? _self;

    [Parameter]
    public long Id { get; set; }

    [Inject]
    private IDeploymentService Deployments { get; set; } = default!;

    [Inject]
    private DeploymentEventHub Events { get; set; } = default!;

    [Inject]
    private OpsActors Actors { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private IScrollManager Scroll { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    private bool _signRefusalScrollPending;

    /// <summary>The run as shown (null while loading or when it cannot be shown).</summary>
    internal DeploymentRun? Run => _run;

    protected override async Task OnInitializedAsync()
    {
        // Subscribed before the first load, so no change falls in between.
        _subscription = Events.Subscribe(Id, OnChangeAsync);
        Navigation.LocationChanged += OnLocationChanged;
        await ReloadAsync();
        // A link from elsewhere (the overview's check links) to something in a folded part opens that part.
        Reveal(FragmentOf(Navigation.Uri));
    }

    private static string? FragmentOf(string uri) => uri.IndexOf('#', StringComparison.Ordinal) is var at and >= 0 ? Uri.UnescapeDataString(uri[(at + 1)..]) : null;

    private void OnLocationChanged(object? sender, Microsoft.AspNetCore.Components.Routing.LocationChangedEventArgs e) =>
        _ = InvokeAsync(() =>
        {
            if (Reveal(FragmentOf(e.Location)))
            {
                StateHasChanged();
            }
        });

    /// <summary>
    /// Opens the part holding the element with id <paramref name="elementId"/> (links of the outline, the approval
    /// blockers and the failed checks point into parts that may be folded) and scrolls to it once it is drawn.
    /// </summary>
    internal bool Reveal(string? elementId)
    {
        if (elementId is null || _outline?.PartHolding(elementId) is not { } part)
        {
            return false;
        }

        Open(part);
        _revealed = elementId;
        return true;
    }

    internal Task RevealAsync(string elementId)
    {
        Reveal(elementId);
        return Task.CompletedTask;
    }

    internal async Task<bool> SetItemAsync(ChecklistItem item, ItemState state, string? reason)
    {
        var result = await Deployments.SetItemAsync(await ActorAsync(), Id, item.Key, state, reason, _run?.VersionOf(item.Key), _stopping.Token);
        _itemRefusal = result.Refusal is { } refusal ? (item.Key, refusal) : null;
        await AfterAsync(OpsResult.Ok);
        return result.Succeeded;
    }

    /// <summary>The refusal of the last change tried on <paramref name="itemKey"/>, shown on its row.</summary>
    internal Refusal? ItemRefusal(string itemKey) => _itemRefusal is { } r && r.ItemKey == itemKey ? r.Refusal : null;

    internal void DismissItemRefusal() => _itemRefusal = null;

    internal async Task SaveContactAsync(ContactField field, string value) =>
        await AfterAsync(await Deployments.SetContactAsync(await ActorAsync(), Id, field.Key, value, _stopping.Token));

    internal async Task SignAsync(SignRequest request)
    {
        var result = await Deployments.SignAsync(await ActorAsync(), Id, request.Kind, request.Reason, _stopping.Token);
        _signRefusal = result.Refusal is { } refusal ? new SignRefusal(request.Kind, refusal) : null;
        _signRefusalScrollPending = _signRefusal is not null;
        await AfterAsync(OpsResult.Ok);
    }

    internal async Task RunChecksAsync()
    {
        _busy = true;
        try
        {
            var result = await Deployments.RunProbesAsync(await ActorAsync(), Id, null, _stopping.Token);
            if (result.Succeeded)
            {
                _checksRun = result.Value.Count;
                _failedChecks = [.. result.Value
                    .Where(e => !e.Verdict.Passed)
                    .Select(e => (Probe: _run?.Runbook.FindProbe(e.ProbeKey), Execution: e))
                    .Where(f => f.Probe is not null)
                    .Select(f => (f.Probe!, f.Execution))];
                if (_failedChecks.Count == 0)
                {
                    Snackbar.Add($"All {result.Value.Count} checks passed.", Severity.Success);
                }
            }

            await AfterAsync(result);
        }
        finally
        {
            _busy = false;
        }
    }

    internal async Task AddNoteAsync()
    {
        var result = await Deployments.AddNoteAsync(await ActorAsync(), Id, _note ?? "", _stopping.Token);
        if (result.Succeeded)
        {
            _note = null;
        }

        await AfterAsync(result);
    }

    private async Task ExportRecordAsync()
    {
        var record = await Deployments.ExportRecordAsync(await ActorAsync(), Id, _stopping.Token);
        if (record.Succeeded)
        {
            var markdown = record.Value;
            await DownloadAsync($"deployment-{Id}-record.md", "text/markdown", markdown);
        }
    }

    private async Task ExportTimelineAsync()
    {
        var timeline = await Deployments.ExportTimelineAsync(await ActorAsync(), Id, _stopping.Token);
        if (timeline.Succeeded)
        {
            var csv = timeline.Value;
            await DownloadAsync($"deployment-{Id}-timeline.csv", "text/csv", csv);
        }
    }

    private async Task CopyAsync(string text)
    {
        await (await ModuleAsync()).InvokeVoidAsync("copyText", _stopping.Token, text);
        Snackbar.Add("Copied.", Severity.Normal);
    }

    private async Task DownloadAsync(string fileName, string mimeType, string text) =>
        await (await ModuleAsync()).InvokeVoidAsync("download", _stopping.Token, fileName, mimeType, text);

    private async Task<IJSObjectReference> ModuleAsync() =>
        _module ??= await JS.InvokeAsync<IJSObjectReference>("import", _stopping.Token, "./js/copy-download.js");

    // A refusal is shown as it is; either way the page shows the run as it now is.
    private async Task AfterAsync(OpsResult result)
    {
        _refusal = result.Refusal;
        await ReloadAsync();
        // Also when called outside an event handler (a live update, a test).
        StateHasChanged();
    }

    private async Task ReloadAsync()
    {
        _actor = await ActorAsync();
        var loaded = await Deployments.GetRunAsync(_actor, Id, _stopping.Token);
        if (loaded.Refusal is { } refusal)
        {
            _refusal = refusal;
            _run = null;
            return;
        }

        // Loads can overlap (a click and a live update); a slower, older one must not win.
        if (_run is null || loaded.Value.LastEventId >= _run.LastEventId)
        {
            _run = loaded.Value;
            _outline = RunOutline.Of(_run);
        }
    }

    /// <summary>The address of an element of this page (the base href is the site's root, so a bare <c>#id</c> would leave the page).</summary>
    internal string Href(string elementId) => $"deployments/{Id}#{elementId}";

    private bool IsCollapsed(RunPart part)
    {
        if (_opened.Contains(part.Key))
        {
            return false;
        }

        if (_folded.TryGetValue(part.Key, out var foldedFinished))
        {
            return !(foldedFinished && !part.IsFinished);
        }

        return !_outline!.OpensByDefault(part);
    }

    /// <summary>The keys of the parts folded now.</summary>
    private IReadOnlySet<string> CollapsedKeys => _outline is null ? new HashSet<string>() : _outline.Parts.Where(IsCollapsed).Select(p => p.Key).ToHashSet();

    internal void ToggleCollapsed(RunPart part)
    {
        if (IsCollapsed(part))
        {
            Open(part);
        }
        else
        {
            Fold(part);
        }
    }

    private void Open(RunPart part)
    {
        _folded.Remove(part.Key);
        _opened.Add(part.Key);
    }

    private void Fold(RunPart part)
    {
        _opened.Remove(part.Key);
        _folded[part.Key] = part.IsFinished;
    }

    /// <summary>Opens every part (to read or search the whole runbook).</summary>
    internal void OpenAll()
    {
        foreach (var part in _outline?.Parts ?? [])
        {
            Open(part);
        }
    }

    /// <summary>An item row, for the N/A key (rows register themselves rather than through <c>@ref</c>: page memory).</summary>
    internal void Register(ChecklistItemRow row) => _rows[row.Key] = row;

    internal void Unregister(ChecklistItemRow row)
    {
        // Only its own entry: a new row for the same item may have registered before this one is disposed.
        if (_rows.GetValueOrDefault(row.Key) == row)
        {
            _rows.Remove(row.Key);
        }
    }

    /// <summary>Opens or closes a reference section (its blocks are rendered only while it is open).</summary>
    internal void ToggleReference(RunbookSection section)
    {
        if (!_openReference.Remove(section.Key))
        {
            _openReference.Add(section.Key);
        }
    }

    internal void CollapseFinished()
    {
        foreach (var part in _outline?.Parts.Where(p => p.IsFinished) ?? [])
        {
            Fold(part);
        }
    }

    /// <summary>The items the page shows now (those of folded parts are not), in order.</summary>
    private IReadOnlyList<ChecklistItem> VisibleItems =>
        _outline is null ? [] : [.. _outline.Parts.Where(p => !IsCollapsed(p)).SelectMany(p => p.Items)];

    /// <summary>Scrolls to and focuses the first item neither checked nor N/A.</summary>
    internal async Task FocusNextOpenAsync()
    {
        if (_run?.Runbook.Items.FirstOrDefault(i => _run.StateOf(i.Key) == ItemState.Unchecked) is { } open)
        {
            await FocusItemAsync(open.Key);
        }
    }

    /// <summary>
    /// A key pressed on the page outside a text field (run-keys.js filters): <c>j</c>/<c>k</c> next/previous item,
    /// <c>n</c> next open item, <c>x</c>/<c>space</c> tick or untick, <c>a</c> N/A; <paramref name="itemKey"/> is the focused item, if any.
    /// </summary>
    [JSInvokable]
    public async Task OnShortcutAsync(string key, string? itemKey)
    {
        if (_run is not { } run)
        {
            return;
        }

        var items = VisibleItems;
        var at = itemKey is null ? -1 : items.ToList().FindIndex(i => i.Key == itemKey);
        switch (key)
        {
            case "j" when items.Count > 0:
                await FocusItemAsync(items[at < 0 ? 0 : Math.Min(at + 1, items.Count - 1)].Key);
                break;
            case "k" when items.Count > 0:
                await FocusItemAsync(items[at <= 0 ? (at < 0 ? items.Count - 1 : 0) : at - 1].Key);
                break;
            case "n":
                // The next open item after the focused one, from the top again after the last.
                var open = run.Runbook.Items.Where(i => run.StateOf(i.Key) == ItemState.Unchecked).ToList();
                var after = itemKey is null ? -1 : run.Runbook.Items.ToList().FindIndex(i => i.Key == itemKey);
                var next = open.FirstOrDefault(i => run.Runbook.Items.ToList().IndexOf(i) > after) ?? open.FirstOrDefault();
                if (next is null)
                {
                    Snackbar.Add("Every item is done.", Severity.Success);
                }
                else
                {
                    await FocusItemAsync(next.Key);
                }

                break;
            case "x" or "space" when at >= 0 && !run.IsReadOnly:
                var item = items[at];
                await SetItemAsync(item, run.StateOf(item.Key) == ItemState.Checked ? ItemState.Unchecked : ItemState.Checked, null);
                break;
            case "a" when at >= 0 && !run.IsReadOnly:
                _rows.GetValueOrDefault(items[at].Key)?.AskReason();
                break;
        }
    }

    private async Task FocusItemAsync(string itemKey)
    {
        // An item of a folded part is shown again before it is focused.
        if (_outline?.PartOf(itemKey) is { } part && IsCollapsed(part))
        {
            Open(part);
            StateHasChanged();
        }

        await (await KeysModuleAsync()).InvokeVoidAsync("focusElement", _stopping.Token, RunAnchors.Item(itemKey));
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (firstRender)
        {
            _self = DotNetObjectReference.Create(this);
            _keys = await (await KeysModuleAsync()).InvokeAsync<IJSObjectReference>("listen", _stopping.Token, _self);
        }

        if (_revealed is { } revealed)
        {
            // Drawn only now: the browser's own jump to the link's #fragment found nothing to scroll to.
            _revealed = null;
            await Scroll.ScrollIntoViewAsync($"[id='{revealed}']", MudBlazor.ScrollBehavior.Auto);
        }

        if (_signRefusalScrollPending && _signRefusal is { } refused)
        {
            // A refusal that still happens (the state moved since the page drew the button): on screen, beside the button.
            _signRefusalScrollPending = false;
            await Scroll.ScrollIntoViewAsync($"[data-testid=signature-{refused.Kind.ToString().ToLowerInvariant()}] [data-testid=refusal]", MudBlazor.ScrollBehavior.Auto);
        }
    }

    private async Task<IJSObjectReference> KeysModuleAsync() =>
        _keysModule ??= await JS.InvokeAsync<IJSObjectReference>("import", _stopping.Token, "./js/run-keys.js");

    private Task OnChangeAsync(DeploymentChange change) => InvokeAsync(async () =>
    {
        try
        {
            if (!change.IsResync && _run is not null && change.EventId <= _run.LastEventId)
            {
                return;
            }

            await ReloadAsync();
            var actor = await ActorAsync();
            if (!change.IsResync && await Deployments.GetEventAsync(actor, change.EventId, _stopping.Token) is { } seen
                && !seen.IsBy(actor))
            {
                _lastChange = $"{seen.Summary} ({DeploymentFormat.Time(seen.At)})";
            }

            StateHasChanged();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            await DispatchExceptionAsync(e);
        }
    });

    // Built again for each action and load: a user demoted or signed out meanwhile acts with what they hold now.
    private Task<OpsActor> ActorAsync() => Actors.CurrentAsync(_stopping.Token);

    public async ValueTask DisposeAsync()
    {
        _subscription?.Dispose();
        Navigation.LocationChanged -= OnLocationChanged;
        await _stopping.CancelAsync();
        try
        {
            if (_keys is not null)
            {
                await _keys.InvokeVoidAsync("dispose");
                await _keys.DisposeAsync();
            }

            foreach (var module in new[] { _keysModule, _module })
            {
                if (module is not null)
                {
                    await module.DisposeAsync();
                }
            }
        }
        catch (JSDisconnectedException)
        {
            // The circuit is gone; so are the modules and the listener.
        }

        _self?.Dispose();
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }
}
