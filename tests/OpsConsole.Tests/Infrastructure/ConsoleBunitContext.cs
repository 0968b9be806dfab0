using System.Security.Claims;
using Bunit;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using OpsConsole.Auth;
using OpsConsole.Database;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Infrastructure;

/// <summary>
/// The one bUnit base: MudBlazor with transitions off and loose JS interop, the console's real
/// authorization policies, and a signed-in user chosen by the test (<see cref="SignInAs"/>).
/// </summary>
public abstract class ConsoleBunitContext : BunitContext, IAsyncLifetime
{
    private readonly TestAuthenticationStateProvider _authentication = new();

    protected ConsoleBunitContext()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices(options =>
        {
            options.SnackbarConfiguration.ShowTransitionDuration = 0;
            options.SnackbarConfiguration.HideTransitionDuration = 0;
            options.PopoverOptions.CheckForPopoverProvider = false;
            options.PopoverOptions.Duration = TimeSpan.Zero;
        });
        // The real policies, not bUnit's stand-in: the tests are about who may do what.
        Services.AddAuthorizationCore(options => options.AddOpsPolicies());
        Services.AddSingleton<IAuthorizationService, DefaultAuthorizationService>();
        Services.AddSingleton<IAuthorizationPolicyProvider, DefaultAuthorizationPolicyProvider>();
        Services.AddCascadingAuthenticationState();
        Services.AddSingleton<AuthenticationStateProvider>(_authentication);
        // Resolved only by pages that act (their tests register the Core services it needs).
        Services.AddScoped<OpsActors>();
        Services.AddSingleton(TimeProvider.System);
        Services.AddSingleton<DatabaseStatus>();
        Services.AddSingleton<AntiforgeryStateProvider, TestAntiforgeryStateProvider>();
    }

    /// <summary>Signs in as <paramref name="userName"/>; pages' <c>OpsActors</c> see <c>TestActors.For(userName, role)</c>.</summary>
    protected void SignInAs(string userName, string role) => _authentication.User = TestActors.Principal(userName, role);

    async Task IAsyncLifetime.InitializeAsync()
    {
        await ConfigureAsync();
        // Retrieves the renderer, after which no service can be added: so after ConfigureAsync.
        SetRendererInfo(new RendererInfo("Server", isInteractive: true));
    }

    /// <summary>For tests that need services of their own (a database, say) before the first render.</summary>
    protected virtual Task ConfigureAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
    }

    private sealed class TestAntiforgeryStateProvider : AntiforgeryStateProvider
    {
        public override AntiforgeryRequestToken? GetAntiforgeryToken() => new("test-token", "__RequestVerificationToken");
    }

    private sealed class TestAuthenticationStateProvider : AuthenticationStateProvider
    {
        public ClaimsPrincipal User { get; set; } = new(new ClaimsIdentity());

        public override Task<AuthenticationState> GetAuthenticationStateAsync() => Task.FromResult(new AuthenticationState(User));
    }
}
