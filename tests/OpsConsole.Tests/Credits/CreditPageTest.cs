using System.Security.Claims;
using Bunit;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Auth;
using OpsConsole.Core;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Credits;
using OpsConsole.Core.Demo;
using OpsConsole.Testing;
using OpsConsole.Tests.Infrastructure;

namespace OpsConsole.Tests.Credits;

/// <summary>
/// bUnit base of /credits: the core services and local accounts over the class's migrated database (demo data seeded),
/// signed in as a real local account so that the page's <see cref="OpsActors"/> builds the actor it would in the app.
/// bUnit starts no hosted service: live changes are published to the hub by the tests.
/// </summary>
public abstract class CreditPageTest(MarketplaceDatabase database) : ConsoleBunitContext
{
    private readonly LocalUser _user = new();

    protected CreditService Service => Services.GetRequiredService<CreditService>();

    protected NpgsqlDataSource DataSource => database.DataSource;

    protected override async Task ConfigureAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Marketplace"] = database.ConnectionString,
            ["Deployments:ListenForChanges"] = "false",
            ["Credits:ListenForChanges"] = "false",
        }).Build();
        Services.AddLogging();
        Services.AddOpsConsoleCore(configuration);
        Services.AddOpsConsoleAccounts(configuration);
        Services.AddScoped<OpsActors>();
        Services.AddSingleton<AuthenticationStateProvider>(_user);
        await new DemoSeeder(database.DataSource).SeedAsync(20, CancellationToken.None);
    }

    /// <summary>Signs in as the local account <paramref name="userName"/> (created with <paramref name="role"/>); returns its actor.</summary>
    protected async Task<OpsActor> SignInLocalAsync(string userName, string role)
    {
        var accounts = Services.GetRequiredService<AccountService>();
        await accounts.UpsertAsync(userName, role, "a password for tests", CancellationToken.None);
        _user.User = new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, userName), new Claim(ClaimTypes.Role, role), new Claim(OpsClaims.Source, OpsClaims.LocalSource)],
            "test", ClaimTypes.Name, ClaimTypes.Role));
        var account = await accounts.FindAsync(userName, CancellationToken.None);
        return new OpsActor($"local:{account!.Id}", userName, role, OpsPermissionTable.For(role));
    }

    protected Task<Guid> WorkspaceAsync(decimal balance, decimal purchased) => CreditRows.WorkspaceAsync(DataSource, balance, purchased);

    protected Task<decimal> BalanceAsync(Guid workspace) => CreditRows.BalanceAsync(DataSource, workspace);

    protected async Task<long> JournalRowsAsync()
    {
        var (adjustments, events, _) = await CreditRows.WrittenAsync(DataSource);
        return adjustments + events;
    }

    protected static void Eventually(IRenderedComponent<global::OpsConsole.Components.Pages.Credits.CreditsPage> cut, Action assertion) =>
        cut.WaitForAssertion(assertion, TimeSpan.FromSeconds(10));

    private sealed class LocalUser : AuthenticationStateProvider
    {
        public ClaimsPrincipal User { get; set; } = new(new ClaimsIdentity());

        public override Task<AuthenticationState> GetAuthenticationStateAsync() => Task.FromResult(new AuthenticationState(User));
    }
}
