using System.Globalization;
using Microsoft.AspNetCore.Components;
using OpsConsole.Auth;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Credits;
using CoreRefusal = OpsConsole.Core.Actions.Refusal;

namespace OpsConsole.Components.Pages.Credits;

/// <summary>
/// /credits: the drift list, a workspace drawer (explanation, proposed fix, history, adjustment form with a preview),
/// the approval queue, the journal with reversal, bulk reconcile with its dry run. Every action asks for the actor
/// afresh and goes through <see cref="CreditService"/>, which checks the permission itself.
/// </summary>
public sealed partial class CreditsPage : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private IDisposable? _subscription;

    [Inject]
    private CreditService Credits { get; set; } = default!;

    [Inject]
    private CreditEventHub Events { get; set; } = default!;

    [Inject]
    private OpsActors Actors { get; set; } = default!;

    [Inject]
    private MudBlazor.IScrollManager Scroll { get; set; } = default!;

    /// <summary><c>/credits?workspace=ID</c> (the overview's links): that workspace is opened, its row marked and scrolled to.</summary>
    [SupplyParameterFromQuery(Name = "workspace")]
    public Guid? RequestedWorkspace { get; set; }

    /// <summary>The workspace the address asked for, marked in the drift list.</summary>
    internal Guid? Focused { get; private set; }

    private bool _scrollPending;
    private bool _refusalScrollPending;

    internal IReadOnlyList<CreditRow> Drift { get; private set; } = [];

    internal IReadOnlyList<CreditAdjustment> Journal { get; private set; } = [];

    internal IEnumerable<CreditAdjustment> Pending => Journal.Where(a => a.Status == AdjustmentStatus.PendingApproval);

    internal bool CanEdit { get; private set; }

    internal string? ViewerRole { get; private set; }

    internal CoreRefusal? Refusal { get; private set; }

    /// <summary>The refusal of an approve, reject or reverse, shown beside the button that asked for it.</summary>
    internal (long Id, Decision Decision, CoreRefusal Refusal)? DecisionRefusal { get; set; }

    /// <summary>Who is looking, to offer approval only on others' adjustments (the service checks again).</summary>
    internal string? ViewerId { get; private set; }

    internal string? Notice { get; private set; }

    /// <summary>The open workspace (the drawer), or null.</summary>
    internal CreditWorkspace? Workspace { get; private set; }

    internal CreditHistoryPage? History { get; private set; }

    internal AdjustmentForm Form { get; } = new();

    /// <summary>Stale: the values the page showed are no longer the row's.</summary>
    internal bool WorkspaceChanged { get; private set; }

    internal HashSet<Guid> Selected { get; } = [];

    internal BulkPlan? Plan { get; private set; }

    internal BulkOutcome? BulkResult { get; private set; }

    internal string? BulkReason { get; set; }

    /// <summary>Reasons typed for approve, reject or reverse, per adjustment.</summary>
    internal Dictionary<long, string?> DecisionReasons { get; } = [];

    internal decimal Threshold => Credits.ApprovalThreshold;

    protected override async Task OnInitializedAsync()
    {
        var actor = await Actors.CurrentAsync(_stopping.Token);
        CanEdit = actor.Can(OpsPermissions.EditCredits);
        ViewerRole = actor.Role;
        ViewerId = actor.Id;
        // Subscribed before the first load, so no change falls in between.
        _subscription = Events.Subscribe(change => InvokeAsync(async () =>
        {
            try
            {
                await ReloadAsync(change);
                StateHasChanged();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await DispatchExceptionAsync(e);
            }
        }));
        await LoadAsync();
    }

    protected override async Task OnParametersSetAsync()
    {
        if (RequestedWorkspace is { } requested && requested != Focused)
        {
            Focused = requested;
            await OpenAsync(requested);
            _scrollPending = true;
        }
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (_refusalScrollPending && DecisionRefusal is { } refused)
        {
            // Beside the button, and on screen even when the button was at the window's edge.
            _refusalScrollPending = false;
            var row = refused.Decision == Decision.Decide ? "approval" : "journal-row";
            await Scroll.ScrollIntoViewAsync($"[data-testid={row}][data-id='{refused.Id}'] [data-testid=refusal]", MudBlazor.ScrollBehavior.Auto);
        }

        if (_scrollPending && Focused is { } focused)
        {
            _scrollPending = false;
            await Scroll.ScrollIntoViewAsync($"[data-testid=drift-row][data-workspace='{focused}']", MudBlazor.ScrollBehavior.Smooth);
        }
    }

    internal async Task LoadAsync()
    {
        var actor = await Actors.CurrentAsync(_stopping.Token);
        var drift = await Credits.ListDriftAsync(actor, _stopping.Token);
        var journal = await Credits.ListAdjustmentsAsync(actor, null, null, _stopping.Token);
        Refusal = drift.Refusal ?? journal.Refusal;
        Drift = drift.Succeeded ? drift.Value : [];
        Journal = journal.Succeeded ? journal.Value : [];
        Selected.IntersectWith(Drift.Select(d => d.WorkspaceId));
    }

    // Another person's change: the lists reload; an open workspace whose row moved is marked, not silently replaced,
    // so that nobody submits against values they no longer see.
    private async Task ReloadAsync(CreditChange change)
    {
        await LoadAsync();
        if (Workspace is { } open && (change == CreditChange.Resync || change.WorkspaceId == open.Row.WorkspaceId))
        {
            var now = await Credits.GetWorkspaceAsync(await Actors.CurrentAsync(_stopping.Token), open.Row.WorkspaceId, _stopping.Token);
            // Compared with what the drawer shows after the await: this page's own action may have reloaded it meanwhile.
            if (now.Succeeded && Workspace?.Row.WorkspaceId == open.Row.WorkspaceId && now.Value.Version != Workspace.Version)
            {
                WorkspaceChanged = true;
            }
        }
    }

    internal async Task OpenAsync(Guid workspaceId)
    {
        var actor = await Actors.CurrentAsync(_stopping.Token);
        var workspace = await Credits.GetWorkspaceAsync(actor, workspaceId, _stopping.Token);
        if (!workspace.Succeeded)
        {
            Refusal = workspace.Refusal;
            return;
        }

        // Both read before either is shown, so that the drawer appears whole.
        var history = await Credits.GetHistoryAsync(actor, workspaceId, 1, _stopping.Token);
        Workspace = workspace.Value;
        History = history.Succeeded ? history.Value : null;
        WorkspaceChanged = false;
        Form.Fill(Workspace.Proposal.Deltas);
        Refusal = null;
        Notice = null;
    }

    internal async Task LoadHistoryAsync(int page)
    {
        if (Workspace is null)
        {
            return;
        }

        var history = await Credits.GetHistoryAsync(await Actors.CurrentAsync(_stopping.Token), Workspace.Row.WorkspaceId, page, _stopping.Token);
        History = history.Succeeded ? history.Value : null;
    }

    internal void Close()
    {
        Workspace = null;
        History = null;
        WorkspaceChanged = false;
    }

    internal async Task SubmitAsync()
    {
        if (Workspace is null)
        {
            return;
        }

        var actor = await Actors.CurrentAsync(_stopping.Token);
        var request = new AdjustmentRequest(Workspace.Row.WorkspaceId, Workspace.Version, Form.Deltas, Form.Reason, Form.Ticket);
        var result = await Credits.AdjustAsync(actor, request, _stopping.Token);
        if (!result.Succeeded)
        {
            Refusal = result.Refusal;
            WorkspaceChanged = result.Refusal!.Kind == RefusalKind.Conflict;
            return;
        }

        var outcome = result.Value;
        var notice = outcome.Status == AdjustmentStatus.Applied
            ? $"Adjustment #{outcome.Id} applied ({CreditReconciliation.Describe(request.Deltas)}): balance {Money(outcome.Before.Balance)} → {Money(outcome.After.Balance)}."
            : $"Adjustment #{outcome.Id} waits for approval by another person (above {Money(Threshold)}).";
        var workspaceId = Workspace.Row.WorkspaceId;
        await LoadAsync();
        await OpenAsync(workspaceId);
        Notice = notice;
    }

    internal bool IsOwn(CreditAdjustment adjustment) => ViewerId is { Length: > 0 } viewer && adjustment.MakerId == viewer;

    internal CoreRefusal? DecisionRefusalFor(long id, Decision decision) =>
        DecisionRefusal is { } refused && refused.Id == id && refused.Decision == decision ? refused.Refusal : null;

    internal Task ApproveAsync(long id) => DecideAsync(id, Decision.Decide, (actor, reason) => Credits.ApproveAsync(actor, id, reason, _stopping.Token), "approved");

    internal Task RejectAsync(long id) => DecideAsync(id, Decision.Decide, (actor, reason) => Credits.RejectAsync(actor, id, reason, _stopping.Token), "rejected");

    internal Task ReverseAsync(long id) => DecideAsync(id, Decision.Reverse, (actor, reason) => Credits.ReverseAsync(actor, id, reason, _stopping.Token), "reversed");

    private async Task DecideAsync(long id, Decision decision, Func<OpsActor, string?, Task<OpsResult<AdjustmentOutcome>>> decide, string done)
    {
        var actor = await Actors.CurrentAsync(_stopping.Token);
        var result = await decide(actor, DecisionReasons.GetValueOrDefault(id));
        if (!result.Succeeded)
        {
            DecisionRefusal = (id, decision, result.Refusal!);
            _refusalScrollPending = true;
            Notice = null;
            return;
        }

        DecisionRefusal = null;
        DecisionReasons.Remove(id);
        Notice = result.Value.Id == id
            ? $"Adjustment #{id} {done}."
            : $"Adjustment #{id} {done} by adjustment #{result.Value.Id} ({result.Value.Status.Replace('_', ' ')}).";
        await LoadAsync();
        if (Workspace is { } open)
        {
            await OpenAsync(open.Row.WorkspaceId);
        }
    }

    internal void Toggle(Guid workspaceId, bool selected)
    {
        if (selected)
        {
            Selected.Add(workspaceId);
        }
        else
        {
            Selected.Remove(workspaceId);
        }

        Plan = null;
    }

    internal async Task DryRunAsync()
    {
        var plan = await Credits.PlanBulkAsync(await Actors.CurrentAsync(_stopping.Token), [.. Selected], _stopping.Token);
        Refusal = plan.Refusal;
        Plan = plan.Succeeded ? plan.Value : null;
        BulkResult = null;
    }

    internal async Task ApplyBulkAsync()
    {
        if (Plan is null)
        {
            return;
        }

        var items = Plan.Rows.Where(r => r.Refusal is null).Select(r => new BulkItem(r.Row.WorkspaceId, r.Row.Version, r.Deltas)).ToList();
        var result = await Credits.ApplyBulkAsync(await Actors.CurrentAsync(_stopping.Token), items, BulkReason, _stopping.Token);
        if (!result.Succeeded)
        {
            Refusal = result.Refusal;
            return;
        }

        Refusal = null;
        BulkResult = result.Value;
        Plan = null;
        Selected.Clear();
        await LoadAsync();
    }

    internal static string Money(decimal value) => CreditReconciliation.Money(value);

    internal static string Signed(decimal value) => CreditReconciliation.Signed(value);

    internal static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    public void Dispose()
    {
        _subscription?.Dispose();
        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <summary>The adjustment form: deltas pre-filled from the proposal, reason and ticket typed.</summary>
    internal sealed class AdjustmentForm
    {
        public decimal Balance { get; set; }

        public decimal TotalPurchased { get; set; }

        public decimal TotalEarned { get; set; }

        public decimal TotalUsed { get; set; }

        public string? Reason { get; set; }

        public string? Ticket { get; set; }

        public CreditDeltas Deltas => new(Balance, TotalPurchased, TotalEarned, TotalUsed);

        public void Fill(CreditDeltas deltas)
        {
            (Balance, TotalPurchased, TotalEarned, TotalUsed) = (deltas.Balance, deltas.TotalPurchased, deltas.TotalEarned, deltas.TotalUsed);
            Reason = null;
            Ticket = null;
        }
    }

    /// <summary>Where a decision's button is: in the approval list (approve, reject) or the journal (reverse).</summary>
    internal enum Decision
    {
        Decide,
        Reverse,
    }
}
