using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Actions;
using OpsConsole.Endpoints;

namespace OpsConsole.Tests.Endpoints;

public sealed class OpsResultHttpTests
{
    [Theory]
    [InlineData(RefusalKind.Forbidden, 403)]
    [InlineData(RefusalKind.NotFound, 404)]
    [InlineData(RefusalKind.Conflict, 409)]
    [InlineData(RefusalKind.Invalid, 400)]
    [InlineData(RefusalKind.Rule, 422)]
    public async Task Every_refusal_kind_answers_its_status_code_with_a_problem_details_body(RefusalKind kind, int status)
    {
        var (code, contentType, body) = await ExecuteAsync(new Refusal(kind, $"Refused as {kind}.").ToProblem());

        Assert.Equal(status, code);
        Assert.Equal("application/problem+json", contentType);
        Assert.Equal(status, body.GetProperty("status").GetInt32());
        Assert.Equal($"Refused as {kind}.", body.GetProperty("detail").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("title").GetString()));
    }

    [Fact]
    public void Every_refusal_kind_has_a_status_code()
    {
        Assert.All(Enum.GetValues<RefusalKind>(), kind => Assert.InRange(OpsResultHttp.StatusCodeOf(kind), 400, 499));
    }

    [Fact]
    public async Task A_refusal_with_current_values_carries_them_and_a_success_is_the_value()
    {
        var (code, _, body) = await ExecuteAsync(((OpsResult<int>)Refusal.Conflict("Changed meanwhile.", new { version = 3 })).ToHttp(v => TypedResults.Ok(v)));
        Assert.Equal(409, code);
        Assert.Equal(3, body.GetProperty("current").GetProperty("version").GetInt32());

        var (ok, _, value) = await ExecuteAsync(((OpsResult<int>)42).ToHttp(v => TypedResults.Ok(v)));
        Assert.Equal(200, ok);
        Assert.Equal(42, value.GetInt32());
        Assert.Equal(204, (await ExecuteAsync(OpsResult.Ok.ToHttp())).Status);
    }

    private static async Task<(int Status, string? ContentType, JsonElement Body)> ExecuteAsync(IResult result)
    {
        var context = new DefaultHttpContext
        {
            RequestServices = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider(),
        };
        context.Response.Body = new MemoryStream();
        await result.ExecuteAsync(context);
        context.Response.Body.Position = 0;
        var body = context.Response.Body.Length == 0
            ? default
            : (await JsonDocument.ParseAsync(context.Response.Body)).RootElement.Clone();
        return (context.Response.StatusCode, context.Response.ContentType?.Split(';')[0], body);
    }
}
