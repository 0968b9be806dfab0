using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpsConsole.Core.Credits;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Credits;

public sealed class CreditLiveUpdateTests(MarketplaceDatabase database) : CreditTestKit(database), IClassFixture<MarketplaceDatabase>
{
    [Fact]
    public async Task A_change_made_through_any_instance_reaches_the_subscribers_of_another_at_commit()
    {
        var hub = new CreditEventHub(NullLogger<CreditEventHub>.Instance);
        using var listener = new CreditEventListener(DataSource, hub, Options.Create(new CreditOptions()), NullLogger<CreditEventListener>.Instance);
        await listener.StartAsync(Ct);
        await listener.Listening.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        var seen = new TaskCompletionSource<CreditChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = hub.Subscribe(change =>
        {
            seen.TrySetResult(change);
            return Task.CompletedTask;
        });
        var workspace = await WorkspaceAsync(10m, 10m);

        // A refused change is never announced: nothing was committed.
        Refused(await Service.AdjustAsync(Support, new AdjustmentRequest(workspace, "stale", new CreditDeltas(1m, 1m, 0, 0), "Stale version, refused", null), Ct), OpsConsole.Core.Actions.RefusalKind.Conflict);
        var made = Succeeds(await Service.AdjustAsync(Support, new AdjustmentRequest(workspace, await VersionAsync(workspace), new CreditDeltas(1m, 1m, 0, 0), "Announced to every page", null), Ct));

        var change = await seen.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(new CreditChange(workspace, made.Id), change);
        await listener.StopAsync(Ct);
    }
}
