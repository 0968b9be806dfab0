using System.Globalization;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Metrics;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Metrics;

/// <summary>Integrity checks (which break invariants on purpose, so they have a database of their own) and the Prometheus text.</summary>
public sealed partial class IntegrityAndExpositionTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    private NpgsqlDataSource Db => database.DataSource;

    [Fact]
    public async Task Integrity_reads_zero_on_a_healthy_marketplace_and_lists_double_sales_and_credit_discrepancies()
    {
        await using var services = TestServices.Build(database.ConnectionString);
        var query = services.GetRequiredService<PurchaseMetricsQuery>();
        var sellers = await MarketSeed.WorkspacesAsync(Db, 2, 50m);
        var leads = await MarketSeed.ListedLeadsAsync(Db, sellers, 2, 10m);

        var healthy = await query.ReadAsync(MetricsWindow.FifteenMinutes, DateTimeOffset.UtcNow, CancellationToken.None);

        await using var connection = await Db.OpenConnectionAsync();
        await connection.ExecuteAsync(
            "UPDATE leads SET sold_count = 2, marketplace_status = 'sold', sold_at = now() WHERE id = @Id", new { Id = leads[0] });
        // total_earned moved without balance: the guide's full formula (purchased + earned - used) sees the drift.
        await connection.ExecuteAsync(
            "UPDATE workspace_credits SET total_earned = total_earned + 5 WHERE workspace_id = @Id", new { Id = sellers[1] });
        var broken = await query.ReadAsync(MetricsWindow.FifteenMinutes, DateTimeOffset.UtcNow, CancellationToken.None);

        Assert.True(healthy.Integrity.Holds);
        var sold = Assert.Single(broken.Integrity.DoubleSoldLeads);
        Assert.Equal($"lead {leads[0]}", sold.Subject);
        Assert.Contains("sold_count = 2", sold.Detail, StringComparison.Ordinal);
        var drift = Assert.Single(broken.Integrity.CreditDiscrepancies);
        Assert.Equal($"workspace {sellers[1]}", drift.Subject);
        Assert.False(broken.Integrity.Holds);
    }

    [Fact]
    public void The_exposition_carries_each_kpi_as_a_ratio_or_in_seconds_with_its_window_and_state()
    {
        var snapshot = Snapshot(new PurchaseCounts(200, 197, 2, 1, 2), new DurationSummary(197, 450, 400, 900), new WebhookCounts(10, 11, 1));

        var text = PrometheusExposition.Format(snapshot);

        Assert.Contains("opsconsole_purchase_success_ratio{window=\"15m\"} 0.985\n", text, StringComparison.Ordinal);
        Assert.Contains("opsconsole_purchase_conflict_ratio{window=\"15m\"} 0.00990099009900990", text, StringComparison.Ordinal);
        Assert.Contains("opsconsole_credit_purchase_duration_seconds{window=\"15m\",statistic=\"average\"} 0.45\n", text, StringComparison.Ordinal);
        Assert.Contains("opsconsole_credit_purchase_duration_seconds{window=\"15m\",statistic=\"p95\"} 0.9\n", text, StringComparison.Ordinal);
        Assert.Contains("opsconsole_webhook_duplicate_ratio{window=\"15m\"} 0.0909090909090909", text, StringComparison.Ordinal);
        Assert.Contains("opsconsole_purchases{window=\"15m\",outcome=\"completed\"} 197\n", text, StringComparison.Ordinal);
        Assert.Contains("opsconsole_kpi_state{window=\"15m\",kpi=\"purchase_success_rate\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("opsconsole_kpi_alert_threshold{kpi=\"purchase_success_rate\"} 0.98\n", text, StringComparison.Ordinal);
        Assert.Contains("opsconsole_kpi_target{kpi=\"credit_purchase_time\"} 0.45\n", text, StringComparison.Ordinal);
        Assert.Contains("opsconsole_double_sold_leads 0\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE opsconsole_purchase_success_ratio gauge\n", text, StringComparison.Ordinal);
        AssertWellFormed(text);
    }

    [Fact]
    public void A_rate_without_data_is_exposed_as_nan_and_its_state_as_no_data()
    {
        var snapshot = Snapshot(new PurchaseCounts(0, 0, 0, 0, 0), new DurationSummary(0, null, null, null), new WebhookCounts(0, 0, 0));

        var text = PrometheusExposition.Format(snapshot);

        Assert.Contains("opsconsole_purchase_success_ratio{window=\"15m\"} NaN\n", text, StringComparison.Ordinal);
        Assert.Contains("opsconsole_kpi_state{window=\"15m\",kpi=\"webhook_duplicate_rate\"} -1\n", text, StringComparison.Ordinal);
        AssertWellFormed(text);
    }

    private static MetricsSnapshot Snapshot(PurchaseCounts counts, DurationSummary time, WebhookCounts webhooks)
    {
        var readings = new MetricsReadings(
            MetricsWindow.FifteenMinutes, DateTimeOffset.UnixEpoch.AddDays(1), counts, counts, time, time,
            new DurationSummary(0, null, null, null), webhooks, webhooks, [], new IntegrityReport([], []));
        var definitions = KpiDefinition.From(new MetricsOptions());
        return MetricsSnapshot.Evaluate(readings, definitions, definitions.ToDictionary(d => d.Kpi, _ => new KpiStateMachine(2)), DateTimeOffset.UnixEpoch.AddDays(1));
    }

    // Every line is a comment (# HELP / # TYPE) or `name{labels} value`, every family is typed before its samples.
    private static void AssertWellFormed(string text)
    {
        var typed = new HashSet<string>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                Assert.True(typed.Add(line.Split(' ')[2]), $"family typed twice: {line}");
                continue;
            }

            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                continue;
            }

            var sample = SampleLine().Match(line);
            Assert.True(sample.Success, $"not a sample line: {line}");
            Assert.Contains(sample.Groups["name"].Value, typed);
            var value = sample.Groups["value"].Value;
            Assert.True(value is "NaN" or "+Inf" or "-Inf" || double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _), line);
        }
    }

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*\})? (?<value>\S+)$""")]
    private static partial Regex SampleLine();
}
