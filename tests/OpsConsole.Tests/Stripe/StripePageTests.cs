using Bunit;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Components.Pages.Stripe;
using OpsConsole.Components.Shared;
using OpsConsole.Core;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Stripe;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Stripe;

/// <summary>The page over the real core services and database (the refund itself is the browser test's).</summary>
public sealed class StripePageTests(MarketplaceDatabase database) : ConsoleBunitContext, IClassFixture<MarketplaceDatabase>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    protected override Task ConfigureAsync()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                [$"ConnectionStrings:{ServiceCollectionExtensions.ConnectionStringName}"] = database.ConnectionString,
                ["Stripe:WebhookSecret"] = StripeScenario.Secret,
                ["Stripe:ApiKey"] = "sk_test_page",
                ["Stripe:ApiBase"] = "http://127.0.0.1:9",
            })
            .Build();
        Services.AddLogging();
        Services.AddOpsConsoleCore(configuration);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Support_sees_the_refund_queue_with_its_action_pending_checkouts_with_time_left_and_the_deliveries()
    {
        SignInAs("support", OpsRoles.Support);
        var (refundId, paymentIntent) = await StripeScenario.RefundRequiredAsync(Services, database.DataSource);
        var pendingId = await StripeScenario.PendingAsync(Services, database.DataSource);
        await Services.GetRequiredService<ReservationExpirySweeper>().SweepOnceAsync(CancellationToken.None);

        var page = Render<StripePage>();

        await page.WaitForAssertionAsync(() => Assert.NotNull(page.Find("[data-testid=refund-queue]").QuerySelector($"[data-testid=object-id][data-id='{refundId}']")), Deadline);
        var row = page.Find($"[data-testid=refund-{refundId}]");
        Assert.NotNull(row.QuerySelector("[data-testid=refund-button]"));
        Assert.Contains(paymentIntent, page.Find("[data-testid=refund-queue]").TextContent, StringComparison.Ordinal);
        var pending = page.Find($"[data-testid=pending-purchases] [data-testid=object-id][data-id='{pendingId}']");
        Assert.Equal(pendingId.ToString(), pending.GetAttribute("title"));
        Assert.Equal(IdDisplay.Distinguishing(pendingId.ToString()), pending.QuerySelector("[data-testid=object-id-text]")!.TextContent);
        Assert.Matches(@"\d+ min \d+ s left", page.Find("[data-testid=pending-purchases] [data-testid=time-left]").TextContent);
        Assert.Contains("refund_required", page.Find("[data-testid=deliveries]").TextContent, StringComparison.Ordinal);
        Assert.Contains("Last sweep", page.Find("[data-testid=last-sweep-text]").TextContent, StringComparison.Ordinal);
        Assert.Equal("No replay yet.", page.Find("[data-testid=last-replay-text]").TextContent.Trim());
        Assert.NotNull(page.Find("[data-testid=replay-now]"));
    }

    [Fact]
    public async Task A_manager_reads_the_page_without_refund_or_replay_actions()
    {
        SignInAs("manager", OpsRoles.Manager);
        var (refundId, _) = await StripeScenario.RefundRequiredAsync(Services, database.DataSource);

        var page = Render<StripePage>();

        await page.WaitForAssertionAsync(() => Assert.Contains("Waiting for support or admin", page.Find($"[data-testid=refund-{refundId}]").TextContent, StringComparison.Ordinal), Deadline);
        Assert.Empty(page.FindAll("[data-testid=refund-button]"));
        Assert.Empty(page.FindAll("[data-testid=replay-now]"));
    }

    [Fact]
    public async Task Searching_by_event_id_shows_that_events_deliveries_with_its_duplicate_count()
    {
        SignInAs("manager", OpsRoles.Manager);
        var pendingId = await StripeScenario.PendingAsync(Services, database.DataSource);
        var paid = SimulatedStripeEvents.PaymentIntentSucceeded(pendingId, SimulatedStripeEvents.NewId("pi"), 500);
        await StripeScenario.DeliverAsync(Services, paid);
        await StripeScenario.DeliverAsync(Services, paid);
        await StripeScenario.DeliverAsync(Services, SimulatedStripeEvents.ChargeRefunded("pi_other"));

        var page = Render<StripePage>();
        await page.WaitForAssertionAsync(() => Assert.NotEmpty(page.FindAll("[data-testid=deliveries] [data-testid=delivery-outcome]")), Deadline);
        await page.FindAndChangeAsync(SearchInput, paid.Id);

        await page.WaitForAssertionAsync(() =>
        {
            var outcomes = page.FindAll("[data-testid=deliveries] [data-testid=delivery-outcome]").Select(o => o.TextContent.Trim()).ToList();
            Assert.Equal(["duplicate", "completed"], outcomes);
        }, Deadline);
        Assert.All(page.FindAll("[data-testid=deliveries] [data-testid=event-deliveries]"), c => Assert.Equal("×2", c.TextContent.Trim()));

        await page.FindAndChangeAsync(SearchInput, pendingId.ToString());
        await page.WaitForAssertionAsync(() => Assert.Equal(2, page.FindAll("[data-testid=deliveries] [data-testid=delivery-outcome]").Count), Deadline);
    }

    [Fact]
    public async Task A_refund_stripe_cannot_be_reached_for_is_shown_with_the_error_and_nothing_is_marked_refunded()
    {
        // Stripe:ApiBase points at a closed port: Stripe never answers, so nothing may count as refunded.
        SignInAs("support", OpsRoles.Support);
        var (refundId, _) = await StripeScenario.RefundRequiredAsync(Services, database.DataSource);
        var page = Render<StripePage>();
        await page.WaitForAssertionAsync(() => Assert.NotNull(page.Find($"[data-testid=refund-{refundId}] [data-testid=refund-button]")), Deadline);

        await page.FindAndClickAsync($"[data-testid=refund-{refundId}] [data-testid=refund-button]");

        await page.WaitForAssertionAsync(() => Assert.Equal("Rule", page.Find("[data-testid=refusal]").GetAttribute("data-refusal-kind")), TimeSpan.FromSeconds(30));
        Assert.StartsWith("Stripe did not refund:", page.Find("[data-testid=refusal]").TextContent.Trim(), StringComparison.Ordinal);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        Assert.Equal(("error", 0), await connection.QuerySingleAsync<(string, int)>(
            "SELECT min(outcome), count(*) FILTER (WHERE outcome = 'issued')::int FROM ops.stripe_refunds WHERE purchase_id = @Id", new { Id = refundId }));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM audit_logs WHERE action = 'refund_issued' AND details->'details'->>'purchaseId' = @Id", new { Id = refundId.ToString() }));
        await page.WaitForAssertionAsync(() => Assert.NotNull(page.Find($"[data-testid=refund-{refundId}] [data-testid=refund-error]")), Deadline);
    }

    // MudTextField puts the test id on its input or on its wrapper, depending on the version.
    private static AngleSharp.Dom.IElement SearchInput(IRenderedComponent<StripePage> page)
    {
        var element = page.Find("[data-testid=filter-search]");
        return element.TagName == "INPUT" ? element : element.QuerySelector("input")!;
    }
}
