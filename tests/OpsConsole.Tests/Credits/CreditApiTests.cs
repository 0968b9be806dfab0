using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Demo;
using OpsConsole.Endpoints;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Credits;

/// <summary>The JSON API: every status code the issue names, ProblemDetails with a message, and nothing written on refusal.</summary>
public sealed class CreditApiTests(ConsoleAppFixture app) : IClassFixture<ConsoleAppFixture>, IAsyncLifetime
{
    private NpgsqlDataSource DataSource => app.Database.DataSource;

    public async Task InitializeAsync()
    {
        await app.Factory.Services.GetRequiredService<AccountService>().UpsertAsync("support2", OpsRoles.Support, ConsoleAppFixture.Password, CancellationToken.None);
        await app.Factory.Services.GetRequiredService<DemoSeeder>().SeedAsync(20, CancellationToken.None);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_drift_list_and_a_workspace_come_with_their_version_explanation_and_proposal()
    {
        using var engineer = await ClientAsync(OpsRoles.Engineer);

        var drift = await engineer.GetFromJsonAsync<JsonElement>("/api/credits/drift");
        var row = drift.EnumerateArray().Single(r => r.GetProperty("workspaceId").GetGuid() == DemoSeeder.WorkspaceId(10));
        foreach (var field in new[] { "workspaceName", "balance", "totalPurchased", "totalEarned", "totalUsed", "expectedBalance", "discrepancy", "version" })
        {
            Assert.True(row.TryGetProperty(field, out _), $"drift rows have {field}");
        }

        Assert.Equal(18.25m, row.GetProperty("discrepancy").GetDecimal());
        var workspace = await engineer.GetFromJsonAsync<JsonElement>($"/api/credits/workspaces/{DemoSeeder.WorkspaceId(10)}");
        Assert.Equal(row.GetProperty("version").GetString(), workspace.GetProperty("version").GetString());
        Assert.Equal(-18.25m, workspace.GetProperty("proposal").GetProperty("deltas").GetProperty("balance").GetDecimal());
        Assert.Contains("agree with the records", workspace.GetProperty("explanation").GetProperty("summary").GetString(), StringComparison.Ordinal);

        using var unknown = await engineer.GetAsync($"/api/credits/workspaces/{Guid.NewGuid()}");
        await AssertProblemAsync(unknown, HttpStatusCode.NotFound, "No workspace");
    }

    public static TheoryData<string, string, HttpStatusCode, string> Refusals => new()
    {
        { OpsRoles.Manager, """{"workspaceId":"{W}","expectedVersion":"{V}","balanceDelta":1,"reason":"A reason long enough"}""", HttpStatusCode.Forbidden, "not allowed to edit credits" },
        { OpsRoles.Engineer, """{"workspaceId":"{W}","expectedVersion":"{V}","balanceDelta":1,"reason":"A reason long enough"}""", HttpStatusCode.Forbidden, "not allowed to edit credits" },
        { OpsRoles.Support, """{"workspaceId":"{W}","expectedVersion":"{V}","balanceDelta":1}""", HttpStatusCode.BadRequest, "reason of at least 10 characters" },
        { OpsRoles.Support, """{"workspaceId":"{W}","expectedVersion":"{V}","reason":"A reason long enough"}""", HttpStatusCode.BadRequest, "Every delta is zero" },
        { OpsRoles.Support, """{"expectedVersion":"{V}","balanceDelta":1,"reason":"A reason long enough"}""", HttpStatusCode.BadRequest, "workspaceId is missing" },
        { OpsRoles.Support, """{"workspaceId":"{W}","expectedVersion":"{V}","balanceDelta":"lots","reason":"A reason long enough"}""", HttpStatusCode.BadRequest, "not the JSON" },
        { OpsRoles.Support, """not json""", HttpStatusCode.BadRequest, "not the JSON" },
        { OpsRoles.Support, """{"workspaceId":"00000000-0000-4000-8000-999999999999","expectedVersion":"{V}","balanceDelta":1,"reason":"A reason long enough"}""", HttpStatusCode.NotFound, "No workspace" },
        { OpsRoles.Support, """{"workspaceId":"{W}","expectedVersion":"stale","balanceDelta":1,"reason":"A reason long enough"}""", HttpStatusCode.Conflict, "This balance changed since you looked" },
        { OpsRoles.Support, """{"workspaceId":"{W}","expectedVersion":"{V}","balanceDelta":-31,"reason":"A reason long enough"}""", HttpStatusCode.UnprocessableEntity, "may not become negative" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_refused_adjustment_answers_problem_details_and_writes_nothing(string role, string body, HttpStatusCode status, string message)
    {
        var workspace = await WorkspaceAsync(30m, 30m);
        using var client = await ClientAsync(role);
        var version = await VersionAsync(client, workspace);
        var written = await WrittenAsync();

        using var response = await PostAsync(client, CreditEndpoints.AdjustmentsPath, body.Replace("{W}", workspace.ToString()).Replace("{V}", version));

        var problem = await AssertProblemAsync(response, status, message);
        if (status == HttpStatusCode.Conflict)
        {
            Assert.Equal(30m, problem.GetProperty("current").GetProperty("values").GetProperty("balance").GetDecimal());
        }

        Assert.Equal(written, await WrittenAsync());
        Assert.Equal(30m, await BalanceAsync(workspace));
    }

    [Theory]
    [InlineData("2147483647", "past the last page")]
    [InlineData("1073741824", "past the last page")]
    [InlineData("2", "past the last page")]
    [InlineData("0", "counted from 1")]
    [InlineData("-5", "counted from 1")]
    [InlineData("abc", "")]
    [InlineData("99999999999", "")]
    public async Task A_history_page_that_cannot_exist_is_a_bad_request_not_a_server_error(string page, string message)
    {
        var workspace = await WorkspaceAsync(30m, 30m);
        using var client = await ClientAsync(OpsRoles.Engineer);

        using var first = await client.GetAsync($"/api/credits/workspaces/{workspace}/history?page=1");
        using var response = await client.GetAsync($"/api/credits/workspaces/{workspace}/history?page={page}");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        Assert.Contains(message, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_adjustment_is_created_approved_by_another_person_listed_and_reversed()
    {
        var workspace = await WorkspaceAsync(1000m, 1000m);
        using var support = await ClientAsync(OpsRoles.Support);
        using var support2 = await ClientAsync("support2");

        using var small = await PostAsync(support, CreditEndpoints.AdjustmentsPath,
            $$"""{"workspaceId":"{{workspace}}","expectedVersion":"{{await VersionAsync(support, workspace)}}","balanceDelta":10,"totalPurchasedDelta":10,"reason":"Top-up paid by invoice","ticket":"FIN-1"}""");
        Assert.Equal(HttpStatusCode.Created, small.StatusCode);
        var applied = await small.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("applied", applied.GetProperty("status").GetString());
        Assert.Equal((1000m, 1010m), (applied.GetProperty("before").GetProperty("balance").GetDecimal(), applied.GetProperty("after").GetProperty("balance").GetDecimal()));
        Assert.Equal($"{CreditEndpoints.AdjustmentsPath}/{applied.GetProperty("id").GetInt64()}", small.Headers.Location!.OriginalString);

        using var large = await PostAsync(support, CreditEndpoints.AdjustmentsPath,
            $$"""{"workspaceId":"{{workspace}}","expectedVersion":"{{await VersionAsync(support, workspace)}}","balanceDelta":600,"totalPurchasedDelta":600,"reason":"Large bank transfer"}""");
        var pending = await large.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((HttpStatusCode.Created, "pending_approval"), (large.StatusCode, pending.GetProperty("status").GetString()));
        var pendingId = pending.GetProperty("id").GetInt64();
        var written = await WrittenAsync();

        using (var own = await PostAsync(support, $"{CreditEndpoints.AdjustmentsPath}/{pendingId}/approve", """{"reason":"I checked it myself"}"""))
        {
            await AssertProblemAsync(own, HttpStatusCode.Forbidden, "You made adjustment");
        }

        using (var missing = await PostAsync(support2, $"{CreditEndpoints.AdjustmentsPath}/999999/approve", """{"reason":"Checked the statement"}"""))
        {
            await AssertProblemAsync(missing, HttpStatusCode.NotFound, "No adjustment #999999");
        }

        Assert.Equal(written, await WrittenAsync());
        using var approve = await PostAsync(support2, $"{CreditEndpoints.AdjustmentsPath}/{pendingId}/approve", """{"reason":"Checked the statement"}""");
        Assert.Equal(HttpStatusCode.OK, approve.StatusCode);
        Assert.Equal(1610m, await BalanceAsync(workspace));

        using (var again = await PostAsync(support2, $"{CreditEndpoints.AdjustmentsPath}/{pendingId}/reject", """{"reason":"Too late to reject"}"""))
        {
            await AssertProblemAsync(again, HttpStatusCode.Conflict, "not waiting for approval");
        }

        var journal = await support2.GetFromJsonAsync<JsonElement>($"{CreditEndpoints.AdjustmentsPath}?workspaceId={workspace}&status=applied");
        Assert.Equal(2, journal.GetArrayLength());
        using (var badStatus = await support2.GetAsync($"{CreditEndpoints.AdjustmentsPath}?status=done"))
        {
            await AssertProblemAsync(badStatus, HttpStatusCode.BadRequest, "Unknown status");
        }

        using var reverse = await PostAsync(support2, $"{CreditEndpoints.AdjustmentsPath}/{applied.GetProperty("id").GetInt64()}/reverse", """{"reason":"Invoice was cancelled"}""");
        Assert.Equal(HttpStatusCode.Created, reverse.StatusCode);
        Assert.Equal(1600m, await BalanceAsync(workspace));
        var csv = await support2.GetStringAsync(CreditEndpoints.JournalCsvPath);
        Assert.Contains("Invoice was cancelled", csv, StringComparison.Ordinal);
        var reversal = csv.Split("\r\n").Single(line => line.Contains("Invoice was cancelled", StringComparison.Ordinal)).Split(',');
        var balanceDelta = reversal[Array.IndexOf(csv.Split("\r\n")[0].Split(','), "balance_delta")];
        Assert.StartsWith("-", balanceDelta, StringComparison.Ordinal);
        Assert.Equal(-10m, decimal.Parse(balanceDelta, System.Globalization.CultureInfo.InvariantCulture));
    }

    private async Task<HttpClient> ClientAsync(string userName)
    {
        var client = SignInClient.Create(app.Factory);
        await client.SignInAsync(userName, ConsoleAppFixture.Password);
        return client;
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task<string> VersionAsync(HttpClient client, Guid workspace) =>
        (await client.GetFromJsonAsync<JsonElement>($"/api/credits/workspaces/{workspace}")).GetProperty("version").GetString()!;

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string message)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(message, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        return problem;
    }

    private Task<Guid> WorkspaceAsync(decimal balance, decimal purchased) => CreditRows.WorkspaceAsync(DataSource, balance, purchased);

    private Task<decimal> BalanceAsync(Guid workspace) => CreditRows.BalanceAsync(DataSource, workspace);

    private Task<(long, long, long)> WrittenAsync() => CreditRows.WrittenAsync(DataSource);
}
