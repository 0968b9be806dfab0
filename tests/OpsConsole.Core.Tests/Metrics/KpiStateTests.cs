using OpsConsole.Core.Metrics;

namespace OpsConsole.Core.Tests.Metrics;

public sealed class KpiStateTests
{
    private static readonly IReadOnlyList<KpiDefinition> Guide = KpiDefinition.From(new MetricsOptions());

    private static KpiDefinition Definition(Kpi kpi) => Guide.Single(d => d.Kpi == kpi);

    [Theory]
    [InlineData(Kpi.SuccessRate, 100.0, KpiState.Ok)]
    [InlineData(Kpi.SuccessRate, 99.6, KpiState.Ok)]
    [InlineData(Kpi.SuccessRate, 99.5, KpiState.Warn)]
    [InlineData(Kpi.SuccessRate, 98.5, KpiState.Warn)]
    [InlineData(Kpi.SuccessRate, 98.0, KpiState.Warn)]
    [InlineData(Kpi.SuccessRate, 97.9, KpiState.Alert)]
    [InlineData(Kpi.ConflictRate, 0.0, KpiState.Ok)]
    [InlineData(Kpi.ConflictRate, 0.1, KpiState.Warn)]
    [InlineData(Kpi.ConflictRate, 1.0, KpiState.Warn)]
    [InlineData(Kpi.ConflictRate, 1.01, KpiState.Alert)]
    [InlineData(Kpi.PurchaseTime, 120.0, KpiState.Ok)]
    [InlineData(Kpi.PurchaseTime, 700.0, KpiState.Warn)]
    [InlineData(Kpi.PurchaseTime, 1000.5, KpiState.Alert)]
    [InlineData(Kpi.WebhookDuplicateRate, 4.9, KpiState.Ok)]
    [InlineData(Kpi.WebhookDuplicateRate, 7.0, KpiState.Warn)]
    [InlineData(Kpi.WebhookDuplicateRate, 10.1, KpiState.Alert)]
    public void A_value_is_ok_past_its_target_alert_past_its_alert_threshold_and_warn_between(Kpi kpi, double value, KpiState expected)
    {
        Assert.Equal(expected, Definition(kpi).Classify(value));
    }

    [Fact]
    public void No_value_is_no_data_not_ok()
    {
        Assert.All(Guide, d => Assert.Equal(KpiState.NoData, d.Classify(null)));
    }

    [Fact]
    public void Thresholds_come_from_the_settings()
    {
        var options = new MetricsOptions { SuccessRate = new KpiThresholds { Target = 90, Alert = 80 } };
        var success = KpiDefinition.From(options).Single(d => d.Kpi == Kpi.SuccessRate);

        Assert.Equal(KpiState.Ok, success.Classify(95));
        Assert.Equal(KpiState.Warn, success.Classify(85));
        Assert.Equal("> 90 %", success.TargetText);
        Assert.Equal("< 80 %", success.AlertText);
    }

    [Fact]
    public void A_single_bad_evaluation_shows_warn_with_the_alert_pending_and_the_second_shows_alert()
    {
        var machine = new KpiStateMachine(pendingEvaluations: 2);

        var first = machine.Next(KpiState.Alert);
        var second = machine.Next(KpiState.Alert);
        var third = machine.Next(KpiState.Alert);

        Assert.Equal((KpiState.Warn, true, 1), (first.State, first.AlertPending, first.AlertStreak));
        Assert.Equal((KpiState.Alert, false, 2), (second.State, second.AlertPending, second.AlertStreak));
        Assert.Equal(KpiState.Alert, third.State);
    }

    [Fact]
    public void A_bad_sample_between_good_ones_never_alerts()
    {
        var machine = new KpiStateMachine(pendingEvaluations: 2);
        KpiState[] observed = [KpiState.Ok, KpiState.Alert, KpiState.Ok, KpiState.Alert, KpiState.Warn, KpiState.Alert, KpiState.NoData, KpiState.Alert];

        var shown = observed.Select(o => machine.Next(o).State).ToList();

        Assert.DoesNotContain(KpiState.Alert, shown);
        Assert.Equal([KpiState.Ok, KpiState.Warn, KpiState.Ok, KpiState.Warn, KpiState.Warn, KpiState.Warn, KpiState.NoData, KpiState.Warn], shown);
    }

    [Fact]
    public void An_alert_clears_at_the_first_evaluation_that_is_no_longer_bad()
    {
        var machine = new KpiStateMachine(pendingEvaluations: 3);

        var shown = new[] { KpiState.Alert, KpiState.Alert, KpiState.Alert, KpiState.Alert, KpiState.Ok, KpiState.Alert }
            .Select(o => machine.Next(o).State).ToList();

        Assert.Equal([KpiState.Warn, KpiState.Warn, KpiState.Alert, KpiState.Alert, KpiState.Ok, KpiState.Warn], shown);
    }

    [Fact]
    public void A_pending_period_of_one_alerts_at_once()
    {
        Assert.Equal(KpiState.Alert, new KpiStateMachine(1).Next(KpiState.Alert).State);
        Assert.Throws<ArgumentOutOfRangeException>(() => new KpiStateMachine(0));
    }
}
