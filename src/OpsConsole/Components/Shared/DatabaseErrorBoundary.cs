using OpsConsole.Core.Database;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Rendering;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;
using OpsConsole.Database;

namespace OpsConsole.Components.Shared;

/// <summary>
/// Wraps the page. A database error that a page did not catch replaces the page with a notice
/// (the circuit lives on), and the page is rebuilt as soon as the database answers again.
/// Any other error shows a short apology; it is logged by the framework.
/// </summary>
public sealed class DatabaseErrorBoundary : ErrorBoundary, IDisposable
{
    [Inject]
    private DatabaseStatus Status { get; set; } = default!;

    protected override void OnInitialized()
    {
        // Pages that keep failing while the database is down must not exhaust the boundary.
        MaximumErrorCount = int.MaxValue;
        Status.Changed += OnStatusChanged;
    }

    protected override Task OnErrorAsync(Exception exception)
    {
        if (DatabasePing.IsDatabaseFailure(exception))
        {
            Status.ReportFailure(exception);
        }

        return base.OnErrorAsync(exception);
    }

    protected override void BuildRenderTree(RenderTreeBuilder builder)
    {
        if (CurrentException is null)
        {
            builder.AddContent(0, ChildContent);
            return;
        }

        var databaseDown = DatabasePing.IsDatabaseFailure(CurrentException);
        builder.OpenComponent<MudAlert>(1);
        builder.AddComponentParameter(2, nameof(MudAlert.Severity), databaseDown ? Severity.Warning : Severity.Error);
        builder.AddAttribute(3, "data-testid", "page-error");
        builder.AddComponentParameter(4, nameof(MudAlert.ChildContent), (RenderFragment)(b => b.AddContent(0, databaseDown
            ? "This page needs the database. It comes back by itself when the database answers again."
            : "Something went wrong on this page. Reload it to try again; the error has been logged.")));
        builder.CloseComponent();
    }

    private void OnStatusChanged(bool reachable)
    {
        if (reachable && CurrentException is not null && DatabasePing.IsDatabaseFailure(CurrentException))
        {
            _ = InvokeAsync(Recover);
        }
    }

    public void Dispose() => Status.Changed -= OnStatusChanged;
}
