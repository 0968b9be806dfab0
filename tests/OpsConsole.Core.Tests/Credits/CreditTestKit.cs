using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Accounts;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Credits;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Credits;

/// <summary>
/// Base of the credit editor's tests: the class's migrated database, the service over it, actors of every role (two
/// support people), and workspaces with credit rows and marketplace records made to order.
/// </summary>
public abstract class CreditTestKit : IDisposable
{
    private readonly CancellationTokenSource _deadline = new(TimeSpan.FromMinutes(1));
    private readonly ServiceProvider _services;

    protected CreditTestKit(MarketplaceDatabase database)
    {
        Database = database;
        _services = TestServices.Build(database.ConnectionString, new Dictionary<string, string?>
        {
            ["Credits:HistoryPageSize"] = "3",
            ["Credits:ListenForChanges"] = "false",
        });
        Service = _services.GetRequiredService<CreditService>();
    }

    public static OpsActor Support => TestActors.Support;

    public static OpsActor Support2 { get; } = TestActors.For("support2", OpsRoles.Support);

    // Same display name as Support, another person: four-eyes rules compare identities.
    public static OpsActor SupportNamesake { get; } = TestActors.For("support", OpsRoles.Support, subject: "another-support");

    public static OpsActor Admin => TestActors.Admin;

    public static OpsActor Manager => TestActors.Manager;

    public static OpsActor Engineer => TestActors.Engineer;

    protected MarketplaceDatabase Database { get; }

    protected NpgsqlDataSource DataSource => Database.DataSource;

    protected CreditService Service { get; }

    protected CancellationToken Ct => _deadline.Token;

    public static OpsActor Actor(string name, string role) => TestActors.For(name, role);

    /// <summary>A new workspace (with its owner user) and a credit row of these values; a null total is stored as NULL.</summary>
    protected async Task<Guid> WorkspaceAsync(decimal balance, decimal? purchased, decimal? earned = 0, decimal? used = 0)
    {
        var id = (await MarketSeed.WorkspacesWithoutCreditsAsync(DataSource, 1, Ct))[0];
        await ExecuteAsync("""
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased, total_earned, total_used) VALUES (@Id, @Balance, @Purchased, @Earned, @Used)
            """, new { Id = id, Balance = balance, Purchased = purchased, Earned = earned, Used = used });
        return id;
    }

    /// <summary>
    /// A completed purchase on record by <paramref name="buyer"/>, paid by <paramref name="method"/>, of one listed lead
    /// at <paramref name="price"/> (its item at that price, the lead sold); credit rows untouched.
    /// </summary>
    protected async Task RecordedPurchaseAsync(Guid buyer, decimal price, string method = "credits")
    {
        _seller ??= (await MarketSeed.WorkspacesWithoutCreditsAsync(DataSource, 1, Ct))[0];
        var lead = (await MarketSeed.ListedLeadsAsync(DataSource, [_seller.Value], 1, price, Ct))[0];
        await ExecuteAsync("""
            UPDATE leads SET marketplace_status = 'sold', sold_count = 1, sold_at = now(), first_sold_at = now() WHERE id = @Lead;
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, buyer_user_id, total_leads, status, payment_method, total_price, created_at, completed_at)
            SELECT @Purchase, @Buyer, u.id, 1, 'completed', @Method, @Price, now() - interval '1 hour', clock_timestamp()
            FROM users AS u WHERE u.workspace_id = @Buyer;
            INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price_at_purchase) VALUES (@Purchase, @Lead, @Price);
            """, new { Lead = lead, Purchase = Guid.NewGuid(), Buyer = buyer, Price = price, Method = method });
    }

    private Guid? _seller;

    protected async Task<CreditValues> ValuesAsync(Guid workspace)
    {
        await using var connection = await DataSource.OpenConnectionAsync(Ct);
        return await connection.QuerySingleAsync<CreditValues>(new CommandDefinition("""
            SELECT balance AS Balance, coalesce(total_purchased, 0) AS TotalPurchased, coalesce(total_earned, 0) AS TotalEarned,
                   coalesce(total_used, 0) AS TotalUsed
            FROM workspace_credits WHERE workspace_id = @Id
            """, new { Id = workspace }, cancellationToken: Ct));
    }

    /// <summary>Everything a refused request could have written: journal rows, status events, audit rows.</summary>
    protected async Task<(long Adjustments, long Events, long Audit)> WrittenAsync()
    {
        await using var connection = await DataSource.OpenConnectionAsync(Ct);
        return await connection.QuerySingleAsync<(long, long, long)>(new CommandDefinition("""
            SELECT (SELECT count(*) FROM ops.credit_adjustments), (SELECT count(*) FROM ops.credit_adjustment_events),
                   (SELECT count(*) FROM audit_logs)
            """, cancellationToken: Ct));
    }

    protected async Task<string> VersionAsync(Guid workspace) => (await Service.GetWorkspaceAsync(Support, workspace, Ct)).Value.Version;

    protected async Task ExecuteAsync(string sql, object? parameters = null)
    {
        await using var connection = await DataSource.OpenConnectionAsync(Ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: Ct));
    }

    protected async Task<T> ScalarAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = await DataSource.OpenConnectionAsync(Ct);
        return (await connection.ExecuteScalarAsync<T>(new CommandDefinition(sql, parameters, cancellationToken: Ct)))!;
    }

    protected static T Succeeds<T>(OpsResult<T> result)
    {
        Assert.True(result.Succeeded, result.Refusal?.Message);
        return result.Value;
    }

    protected static Refusal Refused(OpsResult result, RefusalKind kind)
    {
        Assert.False(result.Succeeded, "Expected a refusal.");
        Assert.Equal(kind, result.Refusal!.Kind);
        return result.Refusal;
    }

    public void Dispose()
    {
        _services.Dispose();
        _deadline.Dispose();
        GC.SuppressFinalize(this);
    }
}
