using Bunit;
using OpsConsole.Components.Pages.Purchases;
using OpsConsole.Core.Metrics;
using OpsConsole.Core.Purchases;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Purchases;

public sealed class KpiCardTests : ConsoleBunitContext
{
    private static readonly IReadOnlyList<KpiDefinition> Guide = KpiDefinition.From(new MetricsOptions());

    [Theory]
    [InlineData(99.9, KpiState.Ok, "ok", "OK", "mud-chip-color-success")]
    [InlineData(98.5, KpiState.Warn, "warn", "WARN", "mud-chip-color-warning")]
    [InlineData(97.0, KpiState.Alert, "alert", "ALERT", "mud-chip-color-error")]
    [InlineData(null, KpiState.NoData, "nodata", "NO DATA", "mud-chip-color-default")]
    public void A_card_shows_its_state_by_word_and_colour(double? value, KpiState state, string attribute, string word, string colourClass)
    {
        var reading = new KpiReading(Definition(Kpi.SuccessRate), value, null, new KpiStatus(state, state, 0, 2));

        var card = Render<KpiCard>(p => p.Add(c => c.Reading, reading).Add(c => c.Window, MetricsWindow.FifteenMinutes));

        Assert.Equal(attribute, card.Find("[data-testid=kpi-purchase-success-rate]").GetAttribute("data-state"));
        var chip = card.Find("[data-testid=kpi-purchase-success-rate-state]");
        Assert.Equal(word, chip.TextContent.Trim());
        Assert.Contains(colourClass, chip.ClassList);
    }

    [Fact]
    public void A_card_shows_value_target_alert_and_the_change_against_the_previous_window()
    {
        var reading = new KpiReading(Definition(Kpi.SuccessRate), 98.5, 99.8, new KpiStatus(KpiState.Warn, KpiState.Warn, 0, 2));

        var card = Render<KpiCard>(p => p.Add(c => c.Reading, reading).Add(c => c.Window, MetricsWindow.OneHour));

        Assert.Equal("98.50 %", card.Find("[data-testid=kpi-purchase-success-rate-value]").TextContent.Trim());
        Assert.Contains("Target > 99.5 % · Alert < 98 %", card.Find("[data-testid=kpi-purchase-success-rate]").TextContent, StringComparison.Ordinal);
        var change = card.Find("[data-testid=kpi-purchase-success-rate-change]");
        Assert.Contains("−1.30 pp", change.TextContent, StringComparison.Ordinal);
        Assert.Contains("vs previous 1 h (99.80 %)", change.TextContent, StringComparison.Ordinal);
        Assert.NotNull(change.QuerySelector(".ops-worse"));
    }

    [Fact]
    public void A_falling_purchase_time_is_an_improvement()
    {
        var reading = new KpiReading(Definition(Kpi.PurchaseTime), 420, 500, new KpiStatus(KpiState.Ok, KpiState.Ok, 0, 2));

        var card = Render<KpiCard>(p => p.Add(c => c.Reading, reading).Add(c => c.Window, MetricsWindow.FifteenMinutes));

        var change = card.Find("[data-testid=kpi-credit-purchase-time-change]");
        Assert.Contains("−80 ms", change.TextContent, StringComparison.Ordinal);
        Assert.NotNull(change.QuerySelector(".ops-better"));
        Assert.Equal("420 ms", card.Find("[data-testid=kpi-credit-purchase-time-value]").TextContent.Trim());
    }

    [Fact]
    public void An_alert_still_in_its_pending_period_reads_warn_and_says_so()
    {
        var pending = new KpiStateMachine(2).Next(KpiState.Alert);
        var reading = new KpiReading(Definition(Kpi.ConflictRate), 3.2, 0.05, pending);

        var card = Render<KpiCard>(p => p.Add(c => c.Reading, reading).Add(c => c.Window, MetricsWindow.FifteenMinutes));

        Assert.Equal("WARN", card.Find("[data-testid=kpi-purchase-conflict-rate-state]").TextContent.Trim());
        Assert.Contains("1 of 2 evaluations", card.Find("[data-testid=kpi-purchase-conflict-rate-pending]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void An_integrity_card_reads_ok_at_zero_and_alert_with_its_rows_listed_otherwise()
    {
        var healthy = Render<IntegrityCard>(p => p
            .Add(c => c.Name, "double-sold").Add(c => c.Title, "Leads sold more than once").Add(c => c.Definition, "d")
            .Add(c => c.Violations, Array.Empty<InvariantViolation>()));
        var broken = Render<IntegrityCard>(p => p
            .Add(c => c.Name, "double-sold").Add(c => c.Title, "Leads sold more than once").Add(c => c.Definition, "d")
            .Add(c => c.Violations, new[] { new InvariantViolation(1, "lead 42", "sold_count = 2") }));

        Assert.Equal("ok", healthy.Find("[data-testid=integrity-double-sold]").GetAttribute("data-state"));
        Assert.Empty(healthy.FindAll("[data-testid=integrity-double-sold-list]"));
        Assert.Equal("ALERT", broken.Find("[data-testid=integrity-double-sold-state]").TextContent.Trim());
        Assert.Equal("1", broken.Find("[data-testid=integrity-double-sold-value]").TextContent.Trim());
        Assert.Contains("lead 42", broken.Find("[data-testid=integrity-double-sold-list]").TextContent, StringComparison.Ordinal);
    }

    private static KpiDefinition Definition(Kpi kpi) => Guide.Single(d => d.Kpi == kpi);
}
