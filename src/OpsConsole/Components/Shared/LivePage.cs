using Microsoft.AspNetCore.Components;
using OpsConsole.Core.Database;

namespace OpsConsole.Components.Shared;

/// <summary>
/// A page fed by a sampler. When a read fails because the database (or the replica) did not answer, the page says
/// so (<see cref="ReadError"/>, <see cref="ReadErrorAt"/>) and keeps its last data on screen; any other failure is a
/// bug, for the error boundary and the log. Pages add <c>@inherits LivePage</c>.
/// </summary>
public abstract class LivePage : ComponentBase
{
    /// <summary>The clock the page reads.</summary>
    [Inject]
    protected TimeProvider Time { get; set; } = default!;

    /// <summary>The last failed read, until a read succeeds again.</summary>
    protected Exception? ReadError { get; private set; }

    /// <summary>When <see cref="ReadError"/> happened.</summary>
    protected DateTimeOffset ReadErrorAt { get; private set; }

    /// <summary>A read succeeded: the notice goes.</summary>
    protected void ClearReadError() => ReadError = null;

    /// <summary>Keeps <paramref name="error"/> as the notice when it is the database's; false (nothing kept) otherwise.</summary>
    protected bool RecordReadError(Exception error)
    {
        if (!DatabasePing.IsDatabaseFailure(error))
        {
            return false;
        }

        ReadError = error;
        ReadErrorAt = Time.GetUtcNow();
        return true;
    }

    /// <summary>A sampler's error handler: on the page's context, the notice for the database's failures, the error boundary for the rest.</summary>
    protected Task OnReadErrorAsync(Exception error) => InvokeAsync(async () =>
    {
        if (!RecordReadError(error))
        {
            await DispatchExceptionAsync(error);
            return;
        }

        StateHasChanged();
    });
}
