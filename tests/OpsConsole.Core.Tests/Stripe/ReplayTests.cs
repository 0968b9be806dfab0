using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Stripe;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Stripe;

public sealed class ReplayTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>, IAsyncLifetime
{
    private StripeApiStandIn _stripe = null!;

    public async Task InitializeAsync() => _stripe = await StripeApiStandIn.StartAsync();

    public async Task DisposeAsync() => await _stripe.DisposeAsync();

    private StripeKit Kit(string apiKey = StripeKit.ApiKey) => StripeKit.Create(database.ConnectionString, database.DataSource, new Dictionary<string, string?>
    {
        ["Stripe:ApiKey"] = apiKey,
        ["Stripe:ApiBase"] = _stripe.BaseUrl,
    });

    [Fact]
    public async Task Replay_applies_exactly_the_events_the_receiver_never_saw_through_the_same_path()
    {
        await using var kit = Kit();
        _stripe.MaxPageSize = 2; // several pages
        var received = await kit.CheckoutAsync();
        var missedA = await kit.CheckoutAsync();
        var missedB = await kit.CheckoutAsync();
        var receivedEvent = received.Paid();
        var missedEvents = new[] { missedA.Paid(), missedB.SessionCompleted() };
        var receivedSession = received.SessionCompleted();
        foreach (var e in missedEvents.Append(receivedEvent).Append(receivedSession))
        {
            _stripe.AddEvent(e);
        }

        _stripe.AddEvent(SimulatedStripeEvents.ChargeRefunded(received.PaymentIntentId)); // not a payment type: not listed
        await kit.DeliverAsync(receivedEvent);
        await kit.DeliverAsync(receivedSession);

        var run = await kit.Services.GetRequiredService<StripeReplayer>().ReplayNowAsync(StripeKit.Support, CancellationToken.None);

        Assert.True(run.Succeeded, run.Refusal?.Message);
        Assert.Equal((4, 2, null), (run.Value.Listed, run.Value.Applied, run.Value.Error));
        Assert.True(_stripe.EventListCalls >= 2);
        Assert.Equal("completed", await kit.StatusOfAsync(missedA.PurchaseId));
        Assert.Equal("completed", await kit.StatusOfAsync(missedB.PurchaseId));
        foreach (var e in missedEvents)
        {
            Assert.Equal(("replay", "api", "completed"), (await kit.QueryAsync<(string, string, string)>(
                "SELECT source, signature, outcome FROM ops.stripe_deliveries WHERE event_id = @Id", new { e.Id })).Single());
        }

        // The events already received were not applied again.
        Assert.Equal(1, await kit.EventDeliveriesAsync(receivedEvent.Id));
        Assert.Equal(1, await kit.DeliveryRowsAsync(receivedEvent.Id));
        Assert.Equal(1, await kit.DeliveryRowsAsync(receivedSession.Id));

        var again = await kit.Services.GetRequiredService<StripeReplayer>().ReplayNowAsync(StripeKit.Support, CancellationToken.None);
        Assert.Equal((4, 0), (again.Value.Listed, again.Value.Applied));
        var latest = await kit.Services.GetRequiredService<StripeReplayer>().LatestAsync(CancellationToken.None);
        Assert.Equal(("manual", 4, 0), (latest!.Trigger, latest.Listed, latest.Applied));
        Assert.Contains(TestActors.Support.Id, latest.Actor, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_api_key_is_recorded_with_stripes_words_and_applies_nothing()
    {
        await using var kit = Kit(apiKey: "rk_live_wrong");
        var missed = await kit.CheckoutAsync();
        _stripe.AddEvent(missed.Paid());

        var run = await kit.Services.GetRequiredService<StripeReplayer>().ReplayNowAsync(StripeKit.Support, CancellationToken.None);

        Assert.Equal((0, 0, "Invalid API Key provided."), (run.Value.Listed, run.Value.Applied, run.Value.Error));
        Assert.Equal("pending", await kit.StatusOfAsync(missed.PurchaseId));
    }

    [Fact]
    public async Task Only_support_or_admin_may_replay_and_a_refusal_calls_nothing()
    {
        await using var kit = Kit();
        var calls = _stripe.EventListCalls;

        var run = await kit.Services.GetRequiredService<StripeReplayer>().ReplayNowAsync(StripeKit.Engineer, CancellationToken.None);

        Assert.Equal(RefusalKind.Forbidden, run.Refusal?.Kind);
        Assert.Equal(calls, _stripe.EventListCalls);
    }

    [Fact]
    public async Task While_a_replay_pages_through_stripe_it_holds_no_transaction_and_a_second_instance_does_not_start_it()
    {
        await using var first = Kit();
        await using var second = Kit();
        var missed = await first.CheckoutAsync();
        _stripe.AddEvent(missed.Paid());
        _stripe.EventPageGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var paging = first.Services.GetRequiredService<StripeReplayer>().ReplayNowAsync(StripeKit.Support, CancellationToken.None);
        await _stripe.EventPageWaiting.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var idleInTransaction = await first.ScalarAsync<int>("""
            SELECT count(*)::int FROM pg_stat_activity
            WHERE datname = current_database() AND usename = @Runtime AND state LIKE 'idle in transaction%'
            """, new { Runtime = OpsConsole.Core.Database.ConsoleRoles.RuntimeLogin });
        var calls = _stripe.EventListCalls;
        var other = await second.Services.GetRequiredService<StripeReplayer>().ReplayNowAsync(StripeKit.Support, CancellationToken.None);
        _stripe.EventPageGate.SetResult();
        var run = await paging.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, idleInTransaction);
        Assert.Equal(RefusalKind.Conflict, other.Refusal?.Kind);
        Assert.Equal(calls, _stripe.EventListCalls);
        Assert.Equal((1, 1), (run.Value.Listed, run.Value.Applied));
        Assert.Equal("completed", await first.StatusOfAsync(missed.PurchaseId));
        // The lease is given back: the next replay runs.
        Assert.Null((await second.Services.GetRequiredService<StripeReplayer>().ReplayNowAsync(StripeKit.Support, CancellationToken.None)).Refusal);
    }
}
