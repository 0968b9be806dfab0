using System.Net;
using System.Net.Http.Headers;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Purchases;

/// <summary><c>GET /metrics</c> through the whole app (its sign-in, fallback policy and status code pages included).</summary>
public sealed class PrometheusEndpointTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private const string Token = "scrape-token-for-tests";

    [Fact]
    public async Task With_the_scrape_token_it_answers_the_kpis_in_prometheus_text_format()
    {
        var buyer = await MetricsRows.BuyerAsync(database.DataSource);
        await MetricsRows.PurchasesAsync(database.DataSource, buyer, 197, DateTimeOffset.UtcNow.AddMinutes(-3), durationMs: 300);
        await MetricsRows.PurchasesAsync(database.DataSource, buyer, 3, DateTimeOffset.UtcNow.AddMinutes(-2), status: "failed", durationMs: 300);
        await using var app = new ConsoleAppFactory(database.ConnectionString, new Dictionary<string, string?> { ["Metrics:ScrapeToken"] = Token });
        using var client = app.CreateClient(new() { AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token) } };

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("opsconsole_purchase_success_ratio{window=\"15m\"} 0.985\n", body, StringComparison.Ordinal);
        Assert.Contains("opsconsole_purchases{window=\"15m\",outcome=\"created\"} 200\n", body, StringComparison.Ordinal);
        Assert.Contains("opsconsole_kpi_state{window=\"15m\",kpi=\"purchase_success_rate\"} 1\n", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-token")]
    [InlineData("Basic c2NyYXBlLXRva2VuLWZvci10ZXN0cw==")]
    public async Task Without_the_right_bearer_token_it_answers_401(string? authorization)
    {
        await using var app = new ConsoleAppFactory(database.ConnectionString, new Dictionary<string, string?> { ["Metrics:ScrapeToken"] = Token });
        using var client = app.CreateClient(new() { AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.DoesNotContain("opsconsole_", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_configured_token_the_endpoint_is_off()
    {
        await using var app = new ConsoleAppFactory(database.ConnectionString);
        using var client = app.CreateClient(new() { AllowAutoRedirect = false });

        using var response = await client.GetAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain("opsconsole_", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
