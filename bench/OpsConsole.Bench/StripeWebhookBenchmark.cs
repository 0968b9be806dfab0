using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpsConsole.Core;
using OpsConsole.Core.Demo;
using OpsConsole.Core.Purchases;
using OpsConsole.Endpoints;
using OpsConsole.Testing;

namespace OpsConsole.Bench;

/// <summary>
/// Benchmark 5: Stripe payment deliveries per second through the console's HTTP receiver (Kestrel on loopback,
/// <c>POST /api/stripe/webhook</c> as the console maps it: signature check, event parsing, completion and delivery
/// log in one transaction) against direct calls of <c>complete_stripe_lead_purchase</c> through
/// <see cref="MarketplaceFunctions"/>, 16 concurrent senders each, on the same server in the same run, alternating
/// which goes first each round. Each completion sells one lead of its own pending card purchase.
/// </summary>
internal static class StripeWebhookBenchmark
{
    private const int Senders = 16;
    private const string Secret = "whsec_bench_0123456789abcdef";

    public static async Task RunAsync(BenchServer server, BenchOptions options, Report report, CancellationToken cancellationToken)
    {
        var perPhase = options.Seconds * 150;
        Console.WriteLine($"Stripe webhook: {options.Rounds} rounds of {perPhase} completions per side, {Senders} senders");
        var connectionString = await server.CreateMarketplaceAsync("bench_stripe", cancellationToken);
        await using var data = NpgsqlDataSource.Create(connectionString);
        var sellers = await MarketSeed.WorkspacesAsync(data, 200, 0m, cancellationToken);
        var buyer = (await MarketSeed.WorkspacesAsync(data, 1, 0m, cancellationToken))[0];

        await using var receiver = await ReceiverHost.StartAsync(connectionString, cancellationToken);
        await using var direct = BenchServer.Services(connectionString);
        var functions = direct.GetRequiredService<MarketplaceFunctions>();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Senders * 2, UseProxy = false })
        {
            BaseAddress = receiver.Address,
        };

        // Warm-up, not measured: JIT, pools, Npgsql's automatic preparation.
        await DirectPhaseAsync(functions, await ReserveAsync(data, sellers, buyer, 200, cancellationToken), cancellationToken);
        await HttpPhaseAsync(http, await ReserveAsync(data, sellers, buyer, 200, cancellationToken), cancellationToken);

        var ratios = new List<double>();
        var httpRates = new List<double>();
        var directRates = new List<double>();
        var httpP99 = new List<double>();
        var directP99 = new List<double>();
        var failures = 0;
        for (var round = 1; round <= options.Rounds; round++)
        {
            var forDirect = await ReserveAsync(data, sellers, buyer, perPhase, cancellationToken);
            var forHttp = await ReserveAsync(data, sellers, buyer, perPhase, cancellationToken);
            PhaseResult d, h;
            if (round % 2 == 1)
            {
                d = await DirectPhaseAsync(functions, forDirect, cancellationToken);
                h = await HttpPhaseAsync(http, forHttp, cancellationToken);
            }
            else
            {
                h = await HttpPhaseAsync(http, forHttp, cancellationToken);
                d = await DirectPhaseAsync(functions, forDirect, cancellationToken);
            }

            failures += d.NotCompleted + h.NotCompleted;
            directRates.Add(d.Rate);
            httpRates.Add(h.Rate);
            ratios.Add(h.Rate / d.Rate);
            directP99.Add(Stats.Percentile(d.Latencies, 0.99));
            httpP99.Add(Stats.Percentile(h.Latencies, 0.99));
            Console.WriteLine($"  round {round}: HTTP {h.Rate:0.0}/s (p99 {httpP99[^1]:0.0} ms), direct {d.Rate:0.0}/s (p99 {directP99[^1]:0.0} ms), " +
                              $"ratio {ratios[^1]:0.00}, not completed {d.NotCompleted + h.NotCompleted}");
        }

        const string name = "9. Stripe webhook";
        report.Add(name, $"deliveries/s through POST /api/stripe/webhook ({Senders} senders), median", Stats.F(Stats.Median(httpRates), "0.0"));
        report.Add(name, $"direct complete_stripe_lead_purchase calls/s ({Senders} callers), median", Stats.F(Stats.Median(directRates), "0.0"));
        var ratio = Stats.Median(ratios);
        report.Add(name, "ratio HTTP / direct, median of rounds", Stats.F(ratio), ">= 0.70", ratio >= 0.70);
        var p99 = Stats.Median(httpP99);
        report.Add(name, "HTTP delivery p99, median of rounds", Stats.Ms(p99), "< 50 ms", p99 < 50);
        report.Add(name, "direct call p99, median of rounds", Stats.Ms(Stats.Median(directP99)));
        report.Add(name, "deliveries not answered completed", failures.ToString(System.Globalization.CultureInfo.InvariantCulture), "0", failures == 0);
    }

    // Pending card purchases of one lead each, reserved set-based in one statement (the reservation is not measured).
    private static async Task<Guid[]> ReserveAsync(NpgsqlDataSource data, Guid[] sellers, Guid buyer, int count, CancellationToken cancellationToken)
    {
        var leads = await MarketSeed.ScatteredLeadsAsync(data, sellers, count, cancellationToken);
        await using var connection = await data.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<Guid>(new CommandDefinition("""
            SELECT v.purchase_id
            FROM unnest(@Leads::uuid[]) WITH ORDINALITY AS l(id, n)
            CROSS JOIN LATERAL validate_and_lock_leads_for_purchase(@Buyer, ARRAY[l.id], 'stripe') AS v
            ORDER BY l.n
            """, new { Leads = leads, Buyer = buyer }, commandTimeout: 600, cancellationToken: cancellationToken))).ToArray();
    }

    private static async Task<PhaseResult> DirectPhaseAsync(MarketplaceFunctions functions, Guid[] purchases, CancellationToken cancellationToken)
    {
        var work = new ConcurrentQueue<Guid>(purchases);
        return await RunSendersAsync(async () =>
        {
            if (!work.TryDequeue(out var purchase))
            {
                return null;
            }

            var started = Stopwatch.GetTimestamp();
            var completion = await functions.CompleteStripePurchaseAsync(purchase, SimulatedStripeEvents.NewId("evt"), SimulatedStripeEvents.NewId("pi"), cancellationToken);
            return (Stopwatch.GetElapsedTime(started).TotalMilliseconds, completion.Outcome == PurchaseOutcome.Completed);
        });
    }

    private static async Task<PhaseResult> HttpPhaseAsync(HttpClient http, Guid[] purchases, CancellationToken cancellationToken)
    {
        // Stripe's side of the work (building and signing the event) is done before the clock starts.
        var work = new ConcurrentQueue<(string Body, string Signature)>(purchases.Select(p =>
        {
            var body = SimulatedStripeEvents.Body(SimulatedStripeEvents.PaymentIntentSucceeded(p, SimulatedStripeEvents.NewId("pi"), 500));
            return (body, SimulatedStripeEvents.Sign(body, Secret));
        }));
        return await RunSendersAsync(async () =>
        {
            if (!work.TryDequeue(out var delivery))
            {
                return null;
            }

            var started = Stopwatch.GetTimestamp();
            using var request = new HttpRequestMessage(HttpMethod.Post, StripeEndpoints.WebhookPath)
            {
                Content = new StringContent(delivery.Body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Stripe-Signature", delivery.Signature);
            using var response = await http.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            return (Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                response.StatusCode == HttpStatusCode.OK && text.Contains("\"completed\"", StringComparison.Ordinal));
        });
    }

    private static async Task<PhaseResult> RunSendersAsync(Func<Task<(double Ms, bool Completed)?>> sendOne)
    {
        var latencies = new ConcurrentBag<double>();
        var notCompleted = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Senders).Select(_ => Task.Run(async () =>
        {
            while (await sendOne() is { } sent)
            {
                latencies.Add(sent.Ms);
                if (!sent.Completed)
                {
                    Interlocked.Increment(ref notCompleted);
                }
            }
        })));
        clock.Stop();
        return new PhaseResult(latencies.Count / clock.Elapsed.TotalSeconds, [.. latencies], notCompleted);
    }

    private sealed record PhaseResult(double Rate, double[] Latencies, int NotCompleted);

    /// <summary>The console's webhook endpoint on Kestrel, over the core services as the console registers them.</summary>
    private sealed class ReceiverHost(WebApplication app, Uri address) : IAsyncDisposable
    {
        public Uri Address { get; } = address;

        public static async Task<ReceiverHost> StartAsync(string connectionString, CancellationToken cancellationToken)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Marketplace"] = connectionString,
                ["Stripe:WebhookSecret"] = Secret,
            });
            builder.Services.AddOpsConsoleCore(builder.Configuration);
            var app = builder.Build();
            app.MapStripeEndpoints();
            await app.StartAsync(cancellationToken);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new ReceiverHost(app, new Uri(address));
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
