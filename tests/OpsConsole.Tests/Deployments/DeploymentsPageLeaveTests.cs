using Bunit;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpsConsole.Components.Pages.Deployments;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Deployments;

/// <summary>
/// Leaving the deployments list ends its subscription to run changes, whether the list had loaded or was still
/// loading: a subscription left behind delivered every later change to a component the renderer no longer had
/// ("renderer does not have a component with ID").
/// </summary>
[Collection(DeploymentTests.Collection)]
public sealed class DeploymentsPageLeaveTests(MarketplaceDatabase database) : DeploymentPageTest(database), IClassFixture<MarketplaceDatabase>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly HeldSignIn _signIn = new();
    private readonly SubscriberFailures _failures = new();

    private DeploymentEventHub Hub => Services.GetRequiredService<DeploymentEventHub>();

    protected override async Task ConfigureAsync()
    {
        await base.ConfigureAsync();
        // The page's first await is the sign-in: held, it is the moment a page left while loading is between.
        Services.AddSingleton<AuthenticationStateProvider>(_signIn);
        Services.AddSingleton<ILogger<DeploymentEventHub>>(_failures);
    }

    [Fact]
    public async Task Leaving_the_list_while_it_loads_leaves_no_subscription_behind()
    {
        var before = Hub.SubscriberCount;
        _signIn.Hold = true;
        var cut = Render<DeploymentsPage>();

        await DisposeComponentsAsync();
        _signIn.Release.SetResult();
        await _signIn.Resumed.Task.WaitAsync(Wait);
        // The page's code after the sign-in runs in the renderer's turn that resumed it; this turn comes after it.
        await cut.InvokeAsync(() => { });

        Assert.Equal(before, Hub.SubscriberCount);
        await ChangeReachesNobodyAsync();
    }

    [Fact]
    public async Task Leaving_the_list_after_it_loaded_ends_its_subscription()
    {
        var before = Hub.SubscriberCount;
        var cut = Render<DeploymentsPage>();
        await cut.WaitForElementAsync("[data-testid=runs]", Wait);
        await cut.WaitForAssertionAsync(() => Assert.Equal(before + 1, Hub.SubscriberCount), Wait);

        await DisposeComponentsAsync();

        Assert.Equal(before, Hub.SubscriberCount);
        await ChangeReachesNobodyAsync();
    }

    // A change after leaving: with no subscriber left, nothing is delivered and nothing fails.
    private async Task ChangeReachesNobodyAsync()
    {
        var runId = await DeploymentScenario.StartAsync(Service, DeploymentScenario.Engineer);
        Hub.Publish(new DeploymentChange(runId, 1));
        Assert.Empty(_failures.Messages);
    }

    private sealed class HeldSignIn : AuthenticationStateProvider
    {
        public bool Hold { get; set; }

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Resumed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async Task<AuthenticationState> GetAuthenticationStateAsync()
        {
            if (Hold)
            {
                Hold = false;
                await Release.Task;
                Resumed.SetResult();
            }

            return new AuthenticationState(TestActors.Principal("engineer", OpsRoles.Engineer));
        }
    }

    // The hub's own logger: a subscriber that fails is logged there ("A subscriber failed").
    private sealed class SubscriberFailures : ILogger<DeploymentEventHub>
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _messages = new();

        public IReadOnlyCollection<string> Messages => _messages;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                _messages.Enqueue($"{formatter(state, exception)} {exception?.Message}");
            }
        }
    }
}
