using System.Net;
using System.Text.Json;
using OpsConsole.Core.Database;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.App;

public sealed class HealthEndpointTests(ConsoleAppFixture app) : IClassFixture<ConsoleAppFixture>
{
    [Fact]
    public async Task Health_is_200_with_the_migration_version_when_the_database_answers()
    {
        using var client = app.Factory.CreateClient();

        using var response = await client.GetAsync("/api/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", body.RootElement.GetProperty("status").GetString());
        var database = body.RootElement.GetProperty("database");
        Assert.True(database.GetProperty("reachable").GetBoolean());
        Assert.Equal(DatabaseMigrator.ScriptNames[^1], database.GetProperty("migrationVersion").GetString());
    }

    [Fact]
    public async Task Health_is_503_when_the_database_does_not_answer()
    {
        var deadPort = LocalPostgresCluster.FreeLoopbackPort();
        await using var factory = new ConsoleAppFactory($"Host=127.0.0.1;Port={deadPort};Username=postgres;Database=nowhere;Timeout=2");
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/api/health");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Unhealthy", body.RootElement.GetProperty("status").GetString());
        Assert.False(body.RootElement.GetProperty("database").GetProperty("reachable").GetBoolean());
    }
}
