using OpsConsole.Cli;
using OpsConsole.Core;
using OpsConsole.Core.Demo;
using OpsConsole.Hosting;

if (ConsoleCommands.IsCommand(args))
{
    return await ConsoleCommands.RunAsync(args, Console.In, Console.Out, Console.Error);
}

var builder = WebApplication.CreateBuilder(ContentRoot.WebOptions(args)).UseBuildStaticAssets();

// ConnectionStrings:Marketplace, or a local PostgreSQL cluster started (and later stopped) here.
await using var database = await ConsoleDatabase.StartOrExplainAsync(builder.Configuration, Console.Error, CancellationToken.None);
if (database is null)
{
    return 1;
}

database.ApplyTo(builder.Configuration);
if (DemoMode.From(DemoOptions.From(builder.Configuration))
        .Refusal(database.IsLocal, builder.Environment) is { } refusal)
{
    await Console.Error.WriteLineAsync(refusal);
    return 1;
}

builder.Services.AddOpsConsoleCore(builder.Configuration);
builder.Services.AddOpsConsoleUi(builder.Configuration, builder.Environment);

var app = builder.Build();
app.UseOpsConsoleUi();
await app.PrepareDatabaseAsync(database, app.Lifetime.ApplicationStopping);
await app.RunAsync();
return 0;
