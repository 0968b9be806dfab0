using System.Collections.Concurrent;
using Microsoft.Playwright;
using Npgsql;
using OpsConsole.Testing;
using Xunit.Abstractions;

namespace OpsConsole.Tests.Deploy;

/// <summary>
/// The output of <c>dotnet publish</c>, started the way production starts it (Production, settings from the
/// environment, working directory elsewhere): every page and every file it loads, and the <c>migrate</c> verb.
/// </summary>
public sealed class PublishedConsoleTests(PublishedConsoleTests.OneConsole fixture, ITestOutputHelper output) : IClassFixture<PublishedConsoleTests.OneConsole>
{
    /// <summary>Content types by what a request is for: a wrong one makes the browser refuse a script or a style.</summary>
    private static readonly Dictionary<string, string[]> ContentTypes = new()
    {
        ["document"] = ["text/html"],
        ["script"] = ["text/javascript", "application/javascript"],
        ["stylesheet"] = ["text/css"],
        ["font"] = ["font/woff2", "font/woff", "font/ttf", "application/font-woff"],
        ["image"] = ["image/svg+xml", "image/png", "image/x-icon", "image/vnd.microsoft.icon"],
    };

    [Fact]
    public async Task Every_page_and_every_file_it_loads_answers_200_with_a_body_of_the_right_type()
    {
        var baseUrl = fixture.Console.BaseUrl;
        string signedIn;
        await using (var signIn = await fixture.Browser.NewContextAsync())
        {
            await PublishedConsoleFixture.SignInAsync(await signIn.NewPageAsync(), baseUrl, "/");
            signedIn = await signIn.StorageStateAsync();
        }

        // With the module a page imports once it renders (the run page its keyboard keys, the metrics page ApexCharts).
        var pages = new (string Path, string? Module)[]
        {
            ("/", null), ("/deployments", null), ($"/deployments/{fixture.RunId}", "/js/run-keys."),
            ("/purchases", "/assets/apexcharts/apexcharts.esm.js"), ("/locks", null), ("/credits", null), ("/stripe", null),
        };
        var everyFile = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, module) in pages)
        {
            // A context per page: nothing comes from the browser's cache, every file is fetched from the console.
            await using var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { StorageState = signedIn });
            var page = await context.NewPageAsync();
            var responses = new ConcurrentQueue<IResponse>();
            page.Response += (_, response) => responses.Enqueue(response);
            var failed = new ConcurrentQueue<string>();
            page.RequestFailed += (_, request) => failed.Enqueue($"{request.Url}: {request.Failure}");

            var imported = module is null
                ? Task.CompletedTask
                : page.WaitForResponseAsync(
                    r => new Uri(r.Url).AbsolutePath.StartsWith(module, StringComparison.Ordinal), new() { Timeout = PublishedConsoleFixture.InteractiveTimeout });
            await page.GotoAsync(baseUrl + path);
            Assert.Equal(baseUrl + path, page.Url);
            await Assertions.Expect(page.Locator("[data-interactive=true]")).ToBeAttachedAsync(new() { Timeout = PublishedConsoleFixture.InteractiveTimeout });
            await imported;

            Assert.Empty(failed);
            foreach (var response in responses.Where(r => ContentTypes.ContainsKey(r.Request.ResourceType)))
            {
                var file = new Uri(response.Url).AbsolutePath;
                var type = (await response.HeaderValueAsync("content-type") ?? "").Split(';')[0].Trim();
                var body = await response.BodyAsync();
                output.WriteLine($"{path}: {response.Status} {type} {body.Length,8} {file}");
                Assert.True(response.Status == 200, $"{file} on {path}: {response.Status}");
                Assert.True(body.Length > 0, $"{file} on {path}: empty body");
                Assert.True(ContentTypes[response.Request.ResourceType].Contains(type), $"{file} on {path}: {type} for a {response.Request.ResourceType}");
                everyFile.Add(file);
            }
        }

        // What the pages need, so that a page that silently stopped loading one of them cannot pass.
        foreach (var needed in new[]
                 {
                     "_framework/blazor.web.", "_content/MudBlazor/MudBlazor.min.", "app.", "OpsConsole.", "js/fragment-scroll.",
                     "Components/Layout/ReconnectModal.", "js/run-keys.", "Components/Shared/Charts/ApexChart.", "assets/apexcharts/apexcharts.esm.js",
                 })
        {
            Assert.True(everyFile.Any(f => f.StartsWith("/" + needed, StringComparison.Ordinal)), $"no page loaded /{needed}*");
        }

        Assert.Contains(everyFile, f => f.EndsWith(".css", StringComparison.Ordinal) && f.Contains("MudBlazor", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_published_binary_migrates_an_empty_database_from_any_working_directory()
    {
        var empty = await fixture.Database.Server.CreateEmptyDatabaseAsync();
        try
        {
            var (exitCode, text) = await ChildProcess.RunAsync(
                await PublishedBuild.ExecutableAsync(), ["migrate"], TimeSpan.FromMinutes(2),
                new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = "Production", ["ConnectionStrings__Marketplace"] = empty });

            Assert.True(exitCode == 0, $"OpsConsole migrate ({exitCode}):\n{text}");
            var latest = Directory.GetFiles(RepositoryFiles.PathOf("src/OpsConsole.Core/Database/Migrations"), "*.sql")
                .Select(Path.GetFileName).Order(StringComparer.Ordinal).Last()!;
            Assert.Contains(latest, text);
            await using var connection = new NpgsqlConnection(empty);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT count(*) FROM ops.accounts", connection);
            Assert.Equal(0L, await command.ExecuteScalarAsync());
        }
        finally
        {
            await fixture.Database.Server.DropDatabaseAsync(empty);
        }
    }

    /// <summary>One published console over the class's database.</summary>
    public sealed class OneConsole : PublishedConsoleFixture
    {
        public PublishedConsole Console { get; private set; } = null!;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            Console = await PublishedConsole.StartAsync(Database.ConnectionString);
        }

        public override async Task DisposeAsync()
        {
            if (Console is not null)
            {
                await Console.DisposeAsync();
            }

            await base.DisposeAsync();
        }
    }
}
