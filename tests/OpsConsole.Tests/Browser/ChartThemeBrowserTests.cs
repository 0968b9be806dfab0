using Microsoft.Playwright;
using OpsConsole.Core.Accounts;
using OpsConsole.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OpsConsole.Tests.Browser;

/// <summary>ApexCharts paints its own axes and legend: they follow the console's theme, both ways.</summary>
public sealed class ChartThemeBrowserTests(BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    private static readonly float Timeout = 30_000;

    // WCAG AA for normal text.
    private const double MinimumContrast = 4.5;

    [Theory]
    [InlineData("/purchases", "purchase-chart")]
    [InlineData("/locks", "lock-history-chart")]
    public async Task In_dark_mode_the_chart_axis_labels_and_legend_keep_their_contrast_and_switch_back_in_light_mode(string path, string chartId)
    {
        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = 1440, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"{browser.BaseUrl}{path}");
        await page.GetByLabel("User name").FillAsync(OpsRoles.Engineer);
        await page.GetByLabel("Password").FillAsync(ConsoleAppFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-interactive=true]")).ToBeAttachedAsync(new() { Timeout = Timeout });
        var chart = page.GetByTestId(chartId);
        await Assertions.Expect(chart.Locator(".apexcharts-yaxis-label").First).ToBeAttachedAsync(new() { Timeout = Timeout });
        Assert.True((await LowestContrastAsync(chart)).Contrast >= MinimumContrast, "light mode labels are readable to begin with");

        var toggle = page.GetByTestId("theme-toggle");
        await toggle.ClickAsync();
        try
        {
            var dark = await WaitForContrastAsync(chart, darkBackground: true);
            var screenshot = BrowserFixture.ArtifactPath($"chart-dark-{chartId}.png");
            await chart.ScreenshotAsync(new LocatorScreenshotOptions { Path = screenshot });
            output.WriteLine($"Screenshot: {screenshot}; lowest label contrast in dark mode {dark:0.00}");
            Assert.True(dark >= MinimumContrast, $"in dark mode the chart's labels have a contrast of {dark:0.00}:1 against the page");
        }
        finally
        {
            // The choice is stored per user; later tests expect the light theme.
            await toggle.ClickAsync();
        }

        var light = await WaitForContrastAsync(chart, darkBackground: false);
        Assert.True(light >= MinimumContrast, $"back in light mode the chart's labels have a contrast of {light:0.00}:1");
    }

    // Re-theming is a redraw in the browser after the circuit's render: once the page's background has switched,
    // poll until the labels read, or the deadline.
    private static async Task<double> WaitForContrastAsync(ILocator chart, bool darkBackground)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(Timeout);
        var (contrast, background) = await LowestContrastAsync(chart);
        while ((background < 0.2 != darkBackground || contrast < MinimumContrast) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            (contrast, background) = await LowestContrastAsync(chart);
        }

        Assert.True(background < 0.2 == darkBackground, $"the page's background did not turn {(darkBackground ? "dark" : "light")} (luminance {background:0.00})");
        return contrast;
    }

    // The lowest contrast ratio of the axis labels and legend text against the first opaque background behind the chart.
    private static async Task<(double Contrast, double Background)> LowestContrastAsync(ILocator chart)
    {
        var measured = await chart.EvaluateAsync<double[]>("""
        host => {
            const rgb = text => (text.match(/[\d.]+/g) ?? []).map(Number);
            const luminance = ([r, g, b]) => {
                const c = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
                return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
            };
            let element = host;
            let background = null;
            while (element && !background) {
                const colour = rgb(getComputedStyle(element).backgroundColor);
                if (colour.length >= 3 && (colour.length < 4 || colour[3] > 0.9)) background = colour;
                element = element.parentElement;
            }
            background ??= [255, 255, 255];
            const texts = [...host.querySelectorAll('.apexcharts-xaxis-label, .apexcharts-yaxis-label, .apexcharts-legend-text')];
            if (texts.length === 0) return [0, luminance(background)];
            const ratios = texts.map(t => {
                const style = getComputedStyle(t);
                const colour = rgb(t.classList.contains('apexcharts-legend-text') ? style.color : style.fill);
                const [a, b] = [luminance(colour), luminance(background)].sort((x, y) => y - x);
                return (a + 0.05) / (b + 0.05);
            });
            return [Math.min(...ratios), luminance(background)];
        }
        """);
        return (measured[0], measured[1]);
    }
}
