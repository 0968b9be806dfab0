using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpsConsole.Core.Database;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Security;

/// <summary>The anonymous and token-protected endpoints neither amplify a flood nor echo the database's errors.</summary>
public sealed class EndpointLeakTests
{
    [Fact]
    public async Task A_flood_of_health_requests_shares_one_run_of_the_checks()
    {
        var counter = new CountingCheck();
        var deadPort = LocalPostgresCluster.FreeLoopbackPort();
        await using var factory = new ConsoleAppFactory($"Host=127.0.0.1;Port={deadPort};Username=nobody;Database=nowhere;Timeout=2");
        await using var counted = factory.WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddHealthChecks().AddCheck("counted", counter)));
        using var client = counted.CreateClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => client.GetAsync("/api/health")));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode));
        // One run, or a few when the flood outlasts a second on a busy machine; without the cache, one per request.
        Assert.InRange(counter.Calls, 1, 5);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task The_metrics_endpoints_503_does_not_echo_the_database_error()
    {
        var deadPort = LocalPostgresCluster.FreeLoopbackPort();
        await using var factory = new ConsoleAppFactory(
            $"Host=127.0.0.1;Port={deadPort};Username=secret_role_name;Database=secret_db;Timeout=2",
            new Dictionary<string, string?> { ["Metrics:ScrapeToken"] = "token-for-tests" });
        using var client = factory.CreateClient(new() { AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "token-for-tests") } };

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("could not be read", body, StringComparison.Ordinal);
        foreach (var secret in new[] { "127.0.0.1", deadPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "secret", "Failed to connect" })
        {
            Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
        }
    }

    private sealed class CountingCheck : IHealthCheck
    {
        private int _calls;

        public int Calls => _calls;

        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            await Task.Delay(50, cancellationToken);
            return HealthCheckResult.Healthy();
        }
    }
}
