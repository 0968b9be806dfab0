using OpsConsole.Core.Database;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using OpsConsole.Core.Accounts;
using OpsConsole.Database;

namespace OpsConsole.Components.Layout;

public partial class MainLayout : IDisposable
{
    private readonly CancellationTokenSource _disposed = new();
    private bool _drawerOpen = true;
    private bool _darkMode;
    private string? _userName;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    [Inject]
    private UserPreferencesStore Preferences { get; set; } = default!;

    [Inject]
    private DatabaseStatus DatabaseStatus { get; set; } = default!;

    private bool _chosenOnThisPage;

    protected override async Task OnInitializedAsync()
    {
        if (AuthenticationState is null)
        {
            return;
        }

        _userName = (await AuthenticationState).User.Identity?.Name;
        if (_userName is null)
        {
            return;
        }

        try
        {
            var stored = await Preferences.GetDarkModeAsync(_userName, _disposed.Token);
            // A click while the stored choice was being read wins: the read saw the value from before it.
            if (!_chosenOnThisPage)
            {
                _darkMode = stored;
            }
        }
        catch (Exception ex) when (DatabasePing.IsDatabaseFailure(ex))
        {
            // The light theme will do; the banner tells the user why the page is short of data.
            DatabaseStatus.ReportFailure(ex);
        }
    }

    private async Task ToggleDarkModeAsync()
    {
        _chosenOnThisPage = true;
        _darkMode = !_darkMode;
        if (_userName is null)
        {
            return;
        }

        try
        {
            await Preferences.SetDarkModeAsync(_userName, _darkMode, _disposed.Token);
        }
        catch (Exception ex) when (DatabasePing.IsDatabaseFailure(ex))
        {
            DatabaseStatus.ReportFailure(ex);
        }
    }

    public void Dispose()
    {
        _disposed.Cancel();
        _disposed.Dispose();
    }
}
