using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Deployments;
using OpsConsole.Testing;
using static OpsConsole.Core.Tests.Deployments.DeploymentTestKit;

namespace OpsConsole.Core.Tests.Deployments;

/// <summary>Two console instances (two service providers, each with its own listener) over one database.</summary>
public sealed class LiveUpdateTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>, IAsyncLifetime
{
    private ServiceProvider _first = null!;
    private ServiceProvider _second = null!;

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?> { ["Deployments:ListenerMaxReconnectDelay"] = "00:00:00.200" };
        _first = Services(database.ConnectionString, listen: true, settings);
        _second = Services(database.ConnectionString, listen: true, settings);
        foreach (var instance in new[] { _first, _second })
        {
            foreach (var hosted in instance.GetServices<IHostedService>())
            {
                await hosted.StartAsync(Ct);
            }

            await instance.GetRequiredService<DeploymentEventListener>().Listening.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var instance in new[] { _first, _second })
        {
            foreach (var hosted in instance.GetServices<IHostedService>())
            {
                await hosted.StopAsync(Ct);
            }

            await instance.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_tick_in_one_instance_reaches_a_viewer_of_the_run_in_the_other_with_who_made_it()
    {
        var service = _first.GetRequiredService<IDeploymentService>();
        var runId = await StartAsync(service);
        var otherRunId = await StartAsync(service);
        var started = await RunAsync(service, runId);
        var item = started.Runbook.Items[0];
        // Both starts' own notifications may still be on their way to the second instance (seen under load, for
        // the other run): only what comes after them is about the tick.
        var lastBefore = started.Timeline[^1].Id;
        var otherLastBefore = (await RunAsync(service, otherRunId)).Timeline[^1].Id;
        var received = new TaskCompletionSource<DeploymentChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        var otherRun = 0;
        using var subscription = _second.GetRequiredService<DeploymentEventHub>().Subscribe(runId, change =>
        {
            if (change.EventId > lastBefore)
            {
                received.TrySetResult(change);
            }

            return Task.CompletedTask;
        });
        using var other = _second.GetRequiredService<DeploymentEventHub>().Subscribe(otherRunId, change =>
        {
            if (change.EventId > otherLastBefore)
            {
                Interlocked.Increment(ref otherRun);
            }

            return Task.CompletedTask;
        });

        await SucceedsAsync(service.SetItemAsync(TestActors.Engineer2, runId, item.Key, ItemState.Checked, null, null, Ct));
        // A deadline for the condition; how fast it arrives (the "< 1 s" goal) is bench/'s benchmark 5.
        var change = await received.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(runId, change.RunId);
        var seen = await _second.GetRequiredService<IDeploymentService>().GetEventAsync(TestActors.Engineer, change.EventId, Ct);
        Assert.NotNull(seen);
        Assert.Equal(("engineer2", "item.checked", item.Key), (seen.Actor, seen.Action, seen.Subject));
        Assert.Equal(0, Volatile.Read(ref otherRun));
    }

    [Fact]
    public async Task A_refused_change_is_not_announced()
    {
        var service = _first.GetRequiredService<IDeploymentService>();
        var runId = await StartAsync(service);
        var started = await RunAsync(service, runId);
        var item = started.Runbook.Items[0];
        // The start's own notification may still be on its way to the second instance (seen under load): only what
        // comes after it is about the refused change.
        var lastBefore = started.Timeline[^1].Id;
        var changes = new List<DeploymentChange>();
        var note = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = _second.GetRequiredService<DeploymentEventHub>().Subscribe(runId, change =>
        {
            if (change.EventId <= lastBefore)
            {
                return Task.CompletedTask;
            }

            lock (changes)
            {
                changes.Add(change);
            }

            note.TrySetResult();
            return Task.CompletedTask;
        });

        await RefusedAsync(service.SetItemAsync(TestActors.Engineer, runId, item.Key, ItemState.NotApplicable, "", null, Ct), RefusalKind.Invalid);
        // A later change is the marker: notifications arrive in commit order, so the refused one would have come first.
        await SucceedsAsync(service.AddNoteAsync(TestActors.Engineer, runId, "marker", Ct));
        await note.Task.WaitAsync(TimeSpan.FromSeconds(5));

        var timeline = (await RunAsync(service, runId)).Timeline;
        lock (changes)
        {
            Assert.Equal([timeline[^1].Id], changes.Select(c => c.EventId));
        }
    }

    [Fact]
    public async Task The_listener_reconnects_after_its_backend_is_killed_tells_viewers_to_resync_and_delivers_again()
    {
        var listener = _second.GetRequiredService<DeploymentEventListener>();
        var pid = await listener.Listening.WaitAsync(TimeSpan.FromSeconds(10));
        var service = _first.GetRequiredService<IDeploymentService>();
        var runId = await StartAsync(service);
        var resync = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tick = new TaskCompletionSource<DeploymentChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = _second.GetRequiredService<DeploymentEventHub>().Subscribe(runId, change =>
        {
            if (change.IsResync)
            {
                resync.TrySetResult();
            }
            else
            {
                tick.TrySetResult(change);
            }

            return Task.CompletedTask;
        });

        await using (var admin = await database.DataSource.OpenConnectionAsync())
        {
            Assert.True(await admin.ExecuteScalarAsync<bool>("SELECT pg_terminate_backend(@Pid)", new { Pid = pid }));
        }

        await resync.Task.WaitAsync(TimeSpan.FromSeconds(15));
        var item = (await RunAsync(service, runId)).Runbook.Items[0];
        await SucceedsAsync(service.SetItemAsync(TestActors.Engineer, runId, item.Key, ItemState.Checked, null, null, Ct));

        Assert.Equal(runId, (await tick.Task.WaitAsync(TimeSpan.FromSeconds(5))).RunId);
        Assert.NotEqual(pid, await listener.Listening.WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
