using System.Net;
using Microsoft.AspNetCore.Mvc.Testing;
using OpsConsole.Core.Accounts;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.App;

public sealed class ProductionHeadersTests(ProductionHeadersTests.InProduction app) : IClassFixture<ProductionHeadersTests.InProduction>
{
    public sealed class InProduction : ConsoleAppFixture
    {
        protected override string Environment => "Production";
    }

    [Fact]
    public async Task Outside_development_https_pages_carry_hsts()
    {
        // Not localhost: HSTS is never sent to loopback names.
        using var client = app.Factory.CreateClient(new WebApplicationFactoryClientOptions
        {
            BaseAddress = new Uri("https://opsconsole.example"),
            AllowAutoRedirect = false,
            HandleCookies = true,
        });

        var location = await client.SignInAsync(OpsRoles.Admin, ConsoleAppFixture.Password);
        using var page = await client.GetAsync(location);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("max-age=31536000", string.Join(";", page.Headers.GetValues("Strict-Transport-Security")));
    }

    [Fact]
    public async Task Outside_development_the_auth_cookie_is_marked_secure()
    {
        using var client = app.Factory.CreateClient(new WebApplicationFactoryClientOptions
        {
            BaseAddress = new Uri("https://opsconsole.example"),
            AllowAutoRedirect = false,
            HandleCookies = false,
        });
        var form = await client.GetAsync("/login");
        var antiforgeryCookie = form.Headers.GetValues("Set-Cookie").First().Split(';')[0];
        var token = System.Text.RegularExpressions.Regex.Match(await form.Content.ReadAsStringAsync(), "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/account/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["userName"] = OpsRoles.Admin,
                ["password"] = ConsoleAppFixture.Password,
                ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token),
            }),
        };
        request.Headers.Add("Cookie", antiforgeryCookie);

        using var response = await client.SendAsync(request);

        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("OpsConsole.Auth=", StringComparison.Ordinal));
        Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
    }
}
