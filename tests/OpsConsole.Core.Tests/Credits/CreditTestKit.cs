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

    /// <summary>A new workspace with a credit row of these values.</summary>
    protected async Task<Guid> WorkspaceAsync(decimal balance, decimal purchased, decimal earned = 0, decimal used = 0)
    {
        var id = Guid.NewGuid();
        await ExecuteAsync("""
            INSERT INTO workspaces (id, name) VALUES (@Id, 'Test ' || left(@Id::text, 8));
            INSERT INTO workspace_credits (workspace_id, balance, total_purchased, total_earned, total_used) VALUES (@Id, @Balance, @Purchased, @Earned, @Used);
            """, new { Id = id, Balance = balance, Purchased = purchased, Earned = earned, Used = used });
        return id;
    }

    /// <summary>A completed purchase on record, paid by <paramref name="method"/>, of one lead of <paramref name="seller"/>; credit rows untouched.</summary>
    protected async Task RecordedSaleAsync(Guid buyer, Guid seller, decimal price, string method = "credits")
    {
        await ExecuteAsync("""
            INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price, marketplace_status, sold_count, sold_at, first_sold_at)
            VALUES (@Lead, @Seller, true, @Price, 'sold', 1, now(), now());
            INSERT INTO marketplace_purchases (id, buyer_workspace_id, status, payment_method, total_price, created_at, completed_at)
            VALUES (@Purchase, @Buyer, 'completed', @Method, @Price, now() - interval '1 hour', clock_timestamp());
            INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price) VALUES (@Purchase, @Lead, @Price);
            """, new { Lead = Guid.NewGuid(), Purchase = Guid.NewGuid(), Buyer = buyer, Seller = seller, Price = price, Method = method });
    }

    protected async Task<CreditValues> ValuesAsync(Guid workspace)
    {
        await using var connection = await DataSource.OpenConnectionAsync(Ct);
        return await connection.QuerySingleAsync<CreditValues>(new CommandDefinition("""
            SELECT balance AS Balance, total_purchased AS TotalPurchased, total_earned AS TotalEarned, total_used AS TotalUsed
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
