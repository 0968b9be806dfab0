using System.Net;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Purchases;

public sealed class ChartAssetTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>
{
    [Theory]
    [InlineData("/assets/apexcharts/apexcharts.esm.js", "text/javascript", "ApexCharts v4.7.0")]
    [InlineData("/assets/apexcharts/LICENSE", null, "The MIT License (MIT)")]
    public async Task ApexCharts_and_its_licence_are_served_to_anyone_from_wwwroot_assets(string path, string? contentType, string text)
    {
        await using var app = new ConsoleAppFactory(database.ConnectionString);
        using var client = app.CreateClient(new() { AllowAutoRedirect = false });

        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        if (contentType is not null)
        {
            Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
        }

        Assert.Contains(text, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
