using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using OpsConsole.Core.Accounts;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.App;

/// <summary>
/// Issue 11: the key ring lives in ops.data_protection_keys, so a cookie outlives a restart and works on every
/// instance; failed sign-ins reach the log without the typed name.
/// Seen failing before the change: the second instance (another folder, as on another machine) answered 401 to the
/// first one's cookie, and ops.data_protection_keys did not exist; the endpoint logged "Failed sign-in for" the typed name.
/// </summary>
public sealed class DataProtectionKeyTests(ConsoleAppFixture app) : IClassFixture<ConsoleAppFixture>
{
    [Fact]
    public async Task A_cookie_issued_by_one_instance_is_accepted_by_a_second_instance_on_the_same_database()
    {
        var cookie = await SignInCookieAsync(app.Factory);
        var elsewhere = Directory.CreateTempSubdirectory("opsconsole-second-instance-");
        try
        {
            await using var second = app.Factory.WithWebHostBuilder(builder => builder.UseContentRoot(elsewhere.FullName));
            using var client = second.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/credits/drift");
            request.Headers.Add("Cookie", cookie);

            using var response = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            elsewhere.Delete(recursive: true);
        }

        await using var connection = app.Database.DataSource.CreateConnection();
        Assert.True(await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM ops.data_protection_keys WHERE friendly_name LIKE 'key-%'") >= 1);
    }

    [Fact]
    public async Task A_password_typed_into_the_name_field_reaches_no_log()
    {
        const string typedName = "Correct-Horse-Typed-As-Name";
        using var logs = new CapturingLoggerProvider();
        await using var logged = app.Factory.WithWebHostBuilder(builder => builder.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Information).AddProvider(logs)));
        using var client = SignInClient.Create(logged);

        for (var attempt = 0; attempt < 6; attempt++)
        {
            await client.SignInAsync(typedName, "whatever");
        }

        await logs.WaitForAsync(m => m.Contains("locked after repeated failures", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(logs.Messages, m => m.Contains("Correct-Horse", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(logs.Messages, m => m.Contains("unknown account", StringComparison.Ordinal));
    }

    private static async Task<string> SignInCookieAsync(WebApplicationFactory<Program> factory)
    {
        using var client = SignInClient.Create(factory);
        var form = await client.GetStringAsync("/login");
        var token = Regex.Match(form, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        using var response = await client.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["userName"] = OpsRoles.Manager,
            ["password"] = ConsoleAppFixture.Password,
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token),
        }));
        var setCookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("OpsConsole.Auth=", StringComparison.Ordinal));
        return setCookie.Split(';')[0];
    }
}
