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
    private string? _lastChange;
    private string? _note;
    private bool _busy;

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

    /// <summary>The run as shown (null while loading or when it cannot be shown).</summary>
    internal DeploymentRun? Run => _run;

    protected override async Task OnInitializedAsync()
    {
        // Subscribed before the first load, so no change falls in between.
        _subscription = Events.Subscribe(Id, OnChangeAsync);
        await ReloadAsync();
    }

    internal async Task SetItemAsync(ChecklistItem item, ItemState state, string? reason)
    {
        var result = await Deployments.SetItemAsync(await ActorAsync(), Id, item.Key, state, reason, _run?.VersionOf(item.Key), _stopping.Token);
        await AfterAsync(result);
    }

    internal async Task SaveContactAsync(ContactField field, string value) =>
        await AfterAsync(await Deployments.SetContactAsync(await ActorAsync(), Id, field.Key, value, _stopping.Token));

    internal async Task SignAsync(SignOffKind kind) =>
        await AfterAsync(await Deployments.SignAsync(await ActorAsync(), Id, kind, _stopping.Token));

    internal async Task RunChecksAsync()
    {
        _busy = true;
        try
        {
            var result = await Deployments.RunProbesAsync(await ActorAsync(), Id, null, _stopping.Token);
            if (result.Succeeded)
            {
                var failed = result.Value.Count(e => !e.Verdict.Passed);
                Snackbar.Add(failed == 0 ? $"All {result.Value.Count} checks passed." : $"{failed} of {result.Value.Count} checks failed.",
                    failed == 0 ? Severity.Success : Severity.Error);
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
        var loaded = await Deployments.GetRunAsync(await ActorAsync(), Id, _stopping.Token);
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
        }
    }

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
        await _stopping.CancelAsync();
        if (_module is not null)
        {
            try
            {
                await _module.DisposeAsync();
            }
            catch (JSDisconnectedException)
            {
                // The circuit is gone; so is the module.
            }
        }

        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }
}
