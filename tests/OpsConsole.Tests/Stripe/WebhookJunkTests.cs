using System.Net;
using System.Text;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Stripe;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Stripe;

public sealed class WebhookJunkFixture : ConsoleAppFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["Stripe:WebhookSecret"] = StripeScenario.Secret,
    };
}

public sealed class WebhookJunkTests(WebhookJunkFixture app) : IClassFixture<WebhookJunkFixture>
{
    private const int JunkPosts = 2000;

    [Fact]
    public async Task Junk_posts_write_no_delivery_row_are_counted_in_a_few_rows_and_a_valid_delivery_among_them_completes()
    {
        var purchaseId = await StripeScenario.PendingAsync(app.Factory.Services, app.Database.DataSource);
        var deliveriesBefore = await ScalarAsync<long>("SELECT count(*) FROM ops.stripe_deliveries");
        using var client = app.Factory.CreateClient(new() { AllowAutoRedirect = false });
        var started = DateTimeOffset.UtcNow;
        var statuses = new System.Collections.Concurrent.ConcurrentBag<HttpStatusCode>();
        var validDone = new TaskCompletionSource();
        var sent = 0;

        // Junk keeps coming until both 2,000 were sent and the valid delivery was answered: it arrived during the junk.
        var junk = Parallel.ForEachAsync(Enumerable.Range(0, 8), async (_, ct) =>
        {
            while (Interlocked.Increment(ref sent) <= JunkPosts || !validDone.Task.IsCompleted)
            {
                using var forged = new HttpRequestMessage(HttpMethod.Post, "/api/stripe/webhook")
                {
                    Content = new StringContent("{\"id\":\"evt_junk\",\"type\":\"payment_intent.succeeded\"}", Encoding.UTF8, "application/json"),
                };
                forged.Headers.Add("Stripe-Signature", "t=1700000000,v1=deadbeef");
                using var response = await client.SendAsync(forged, ct);
                statuses.Add(response.StatusCode);
            }
        });
        await WaitUntilAsync(() => statuses.Count >= JunkPosts / 4);
        var body = SimulatedStripeEvents.Body(SimulatedStripeEvents.PaymentIntentSucceeded(purchaseId, SimulatedStripeEvents.NewId("pi"), 500));
        using var valid = new HttpRequestMessage(HttpMethod.Post, "/api/stripe/webhook") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        valid.Headers.Add("Stripe-Signature", SimulatedStripeEvents.Sign(body, StripeScenario.Secret));
        using var validResponse = await client.SendAsync(valid);
        validDone.SetResult();
        await junk;
        var finished = DateTimeOffset.UtcNow;

        Assert.Equal(HttpStatusCode.OK, validResponse.StatusCode);
        using (var json = JsonDocument.Parse(await validResponse.Content.ReadAsStringAsync()))
        {
            Assert.Equal("completed", json.RootElement.GetProperty("outcome").GetString());
        }

        Assert.True(statuses.Count >= JunkPosts);
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.BadRequest or HttpStatusCode.TooManyRequests, s.ToString()));
        // The only new delivery row is the valid delivery's.
        Assert.Equal(deliveriesBefore + 1, await ScalarAsync<long>("SELECT count(*) FROM ops.stripe_deliveries"));
        var minutes = (int)(Minute(finished) - Minute(started)).TotalMinutes + 1;
        // Past the client's refusals per minute (60 by default) the rest are answered 429 (8 posts in flight may slip by
        // between the limiter's check and its count).
        Assert.InRange(statuses.Count(s => s == HttpStatusCode.BadRequest), 60, ((minutes + 1) * 60) + 8);

        await app.Factory.Services.GetRequiredService<StripeRejections>().FlushAsync(CancellationToken.None);
        var rows = (await QueryAsync<(string Client, DateTime Minute, string Reason, long Count)>(
            "SELECT client, minute, reason, count FROM ops.stripe_rejections")).ToList();
        // The bound: one row per client, minute and reason; here one client, two reasons, the minutes the test spanned.
        Assert.InRange(rows.Count, 1, 2 * minutes);
        Assert.Single(rows.Select(r => r.Client).Distinct());
        Assert.Subset(new HashSet<string> { "invalid", "throttled" }, rows.Select(r => r.Reason).ToHashSet());
        Assert.Equal(statuses.Count, rows.Sum(r => r.Count));
    }

    [Fact]
    public async Task The_stripe_summary_counts_the_refusals_of_the_last_hour_by_reason()
    {
        var rejections = app.Factory.Services.GetRequiredService<StripeRejections>();
        var before = await rejections.LastHourAsync(CancellationToken.None);
        rejections.Count("203.0.113.7", RejectionReason.Stale);
        rejections.Count("203.0.113.7", RejectionReason.Stale);
        rejections.Count("198.51.100.1", RejectionReason.Missing);

        var summary = await app.Factory.Services.GetRequiredService<StripeOverview>().GetAsync(fresh: true, CancellationToken.None);

        Assert.Equal(before.Total + 3, summary.Rejections.Total);
        Assert.Equal(before.ByReason.GetValueOrDefault(RejectionReason.Stale) + 2, summary.Rejections.ByReason[RejectionReason.Stale]);
        Assert.Contains(summary.Rejections.TopClients, c => c.Client == "203.0.113.7" && c.Count == 2);
    }

    private static DateTimeOffset Minute(DateTimeOffset at) => new(at.Ticks - (at.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The junk posts did not get going within 30 s.");
            await Task.Delay(10);
        }
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = await app.Database.DataSource.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql))!;
    }

    private async Task<IEnumerable<T>> QueryAsync<T>(string sql)
    {
        await using var connection = await app.Database.DataSource.OpenConnectionAsync();
        return await connection.QueryAsync<T>(sql);
    }
}
