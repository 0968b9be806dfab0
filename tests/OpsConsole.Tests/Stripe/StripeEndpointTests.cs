using System.Net;
using System.Text;
using System.Text.Json;
using Dapper;
using OpsConsole.Core.Demo;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Stripe;

public sealed class StripeWebhookFixture : ConsoleAppFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["Stripe:WebhookSecret"] = StripeScenario.Secret,
    };
}

public sealed class StripeEndpointTests(StripeWebhookFixture app) : IClassFixture<StripeWebhookFixture>
{
    [Fact]
    public async Task Stripe_posts_without_signing_in_or_an_antiforgery_token_and_a_signed_payment_completes_the_purchase()
    {
        var purchaseId = await StripeScenario.PendingAsync(app.Factory.Services, app.Database.DataSource);
        var body = SimulatedStripeEvents.Body(SimulatedStripeEvents.PaymentIntentSucceeded(purchaseId, SimulatedStripeEvents.NewId("pi"), 500));
        using var client = app.Factory.CreateClient(new() { AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/stripe/webhook") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Stripe-Signature", SimulatedStripeEvents.Sign(body, StripeScenario.Secret));

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("completed", json.RootElement.GetProperty("outcome").GetString());
        await using var connection = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal("completed", await connection.ExecuteScalarAsync<string>("SELECT status FROM marketplace_purchases WHERE id = @Id", new { Id = purchaseId }));
    }

    [Fact]
    public async Task A_forged_delivery_gets_400_and_a_body_over_1_MB_gets_413()
    {
        using var client = app.Factory.CreateClient(new() { AllowAutoRedirect = false });
        using var forged = new HttpRequestMessage(HttpMethod.Post, "/api/stripe/webhook") { Content = new StringContent("{\"id\":\"evt_x\"}", Encoding.UTF8, "application/json") };
        forged.Headers.Add("Stripe-Signature", "t=1700000000,v1=deadbeef");
        var big = "{\"pad\":\"" + new string('x', 1024 * 1024) + "\"}";
        using var oversized = new HttpRequestMessage(HttpMethod.Post, "/api/stripe/webhook") { Content = new StringContent(big, Encoding.UTF8, "application/json") };
        oversized.Headers.Add("Stripe-Signature", SimulatedStripeEvents.Sign(big, StripeScenario.Secret));

        using var forgedResponse = await client.SendAsync(forged);
        using var oversizedResponse = await client.SendAsync(oversized);

        Assert.Equal(HttpStatusCode.BadRequest, forgedResponse.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, oversizedResponse.StatusCode);
    }
}

public sealed class StripeEndpointOffTests(ConsoleAppFixture app) : IClassFixture<ConsoleAppFixture>
{
    [Fact]
    public async Task Without_a_webhook_secret_the_endpoint_answers_404()
    {
        using var client = app.Factory.CreateClient(new() { AllowAutoRedirect = false });

        using var response = await client.PostAsync("/api/stripe/webhook", new StringContent("{}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
