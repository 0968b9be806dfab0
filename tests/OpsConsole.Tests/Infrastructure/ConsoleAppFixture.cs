using Microsoft.Extensions.DependencyInjection;
using OpsConsole.Core.Accounts;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Infrastructure;

/// <summary>
/// Class fixture: a migrated database of its own (the team's <see cref="MarketplaceDatabase"/>), the console
/// app over it, and one account per role, each named after its role, with <see cref="Password"/>.
/// </summary>
public class ConsoleAppFixture : IAsyncLifetime
{
    public const string Password = "correct horse battery";

    private ConsoleAppFactory? _factory;

    public MarketplaceDatabase Database { get; } = new();

    public ConsoleAppFactory Factory => _factory ?? throw new InvalidOperationException("The fixture is not initialised.");

    protected virtual IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>();

    protected virtual string Environment => "Development";

    public virtual async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        // As the embedded database does: the lock view reads every session and may signal them.
        await Core.Database.ConsoleRoles.ApplyLockViewRolesAsync(Database.SuperuserConnectionString, grant: true, CancellationToken.None);
        // The app runs as the runtime login; what it seeds (demo data) it writes as the owner, as the console does.
        var settings = new Dictionary<string, string?>(Settings) { ["ConnectionStrings:MarketplaceMigrations"] = Database.SuperuserConnectionString };
        _factory = new ConsoleAppFactory(Database.ConnectionString, settings, Environment);
        BeforeStart(_factory);
        var accounts = _factory.Services.GetRequiredService<AccountService>();
        foreach (var role in OpsRoles.All)
        {
            await accounts.UpsertAsync(role, role, Password, CancellationToken.None);
        }
    }

    /// <summary>Last chance to change the factory before the app starts (Kestrel instead of the test server, say).</summary>
    protected virtual void BeforeStart(ConsoleAppFactory factory)
    {
    }

    public virtual async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        await Database.DisposeAsync();
    }
}
