using Dapper;
using Npgsql;
using OpsConsole.Core.Purchases;
using OpsConsole.Testing;

namespace OpsConsole.Core.Tests.Purchases;

/// <summary>
/// Migration 0090 makes a lead's reservation and sale heap-only (HOT) updates: no index on leads covers a column
/// they change, so a sold lead gets no new entries in leads' indexes. The partial index on sold_at WHERE
/// sold_count > 1 that blocked it gave way to ops.double_sold_leads, noted by a trigger, which invariant 1 reads.
/// </summary>
public sealed class LeadSaleHotUpdateTests(MarketplaceDatabase database) : IClassFixture<MarketplaceDatabase>, IDisposable
{
    private readonly CancellationTokenSource _deadline = new(TimeSpan.FromMinutes(1));

    private CancellationToken Ct => _deadline.Token;

    public void Dispose() => _deadline.Dispose();

    // What a reservation, a sale, a failed purchase or an expiry writes on a lead.
    private static readonly string[] ChangedColumns =
        ["marketplace_status", "sold_count", "sold_at", "first_sold_at", "reserved_by_purchase_id", "reserved_until"];

    [Fact]
    public async Task No_index_on_leads_covers_a_column_that_a_reservation_or_sale_changes()
    {
        await using var connection = new NpgsqlConnection(database.SuperuserConnectionString);
        await connection.OpenAsync(Ct);
        var definitions = (await connection.QueryAsync<string>(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'public.leads'::regclass")).ToArray();

        Assert.NotEmpty(definitions);
        foreach (var definition in definitions)
        {
            Assert.DoesNotContain(ChangedColumns, c => System.Text.RegularExpressions.Regex.IsMatch(definition, $@"\b{c}\b"));
        }
    }

    [Fact]
    public async Task A_credit_purchase_reserves_and_sells_its_leads_with_heap_only_updates()
    {
        var db = database.DataSource;
        var sellers = await MarketSeed.WorkspacesAsync(db, 3, 0m, Ct);
        var buyers = await MarketSeed.WorkspacesAsync(db, 1, 100m, Ct);
        var leads = await MarketSeed.ListedLeadsAsync(db, sellers, 1, 5m, Ct);

        await using var connection = await db.OpenConnectionAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        var status = await connection.QuerySingleAsync<string>("""
            SELECT c.status FROM validate_and_lock_leads_for_purchase(@Buyer, @Leads, 'credits') AS v
            CROSS JOIN LATERAL complete_credit_lead_purchase(v.purchase_id) AS c
            """, new { Buyer = buyers[0], Leads = leads }, transaction);
        // This transaction's own counts: the reservation and the sale each update the three leads once.
        var (updated, hot) = await connection.QuerySingleAsync<(long, long)>("""
            SELECT pg_stat_get_xact_tuples_updated('public.leads'::regclass), pg_stat_get_xact_tuples_hot_updated('public.leads'::regclass)
            """, transaction: transaction);
        await transaction.CommitAsync(Ct);

        Assert.Equal("completed", status);
        Assert.Equal(6, updated);
        Assert.Equal(6, hot);
    }

    [Fact]
    public async Task A_lead_sold_twice_is_reported_until_its_sold_count_is_corrected()
    {
        var db = database.DataSource;
        var sellers = await MarketSeed.WorkspacesAsync(db, 1, 0m, Ct);
        var lead = (await MarketSeed.ListedLeadsAsync(db, sellers, 1, 5m, Ct))[0];
        await using var admin = new NpgsqlConnection(database.SuperuserConnectionString);
        await admin.OpenAsync(Ct);

        await admin.ExecuteAsync("UPDATE leads SET sold_count = 1, marketplace_status = 'sold', sold_at = now() WHERE id = @Id", new { Id = lead });
        Assert.DoesNotContain(await ViolationsAsync(), v => v.Subject == $"lead {lead}");
        Assert.Equal(0, await admin.ExecuteScalarAsync<int>("SELECT count(*) FROM ops.double_sold_leads WHERE lead_id = @Id", new { Id = lead }));

        await admin.ExecuteAsync("UPDATE leads SET sold_count = sold_count + 1 WHERE id = @Id", new { Id = lead });
        Assert.Contains(new InvariantViolation(1, $"lead {lead}", "sold_count = 2"), await ViolationsAsync());

        // Corrected by hand: still noted, no longer reported, since the check reads the lead itself.
        await admin.ExecuteAsync("UPDATE leads SET sold_count = 1 WHERE id = @Id", new { Id = lead });
        Assert.DoesNotContain(await ViolationsAsync(), v => v.Subject == $"lead {lead}");
        Assert.Equal(1, await admin.ExecuteScalarAsync<int>("SELECT count(*) FROM ops.double_sold_leads WHERE lead_id = @Id", new { Id = lead }));
    }

    private async Task<IReadOnlyList<InvariantViolation>> ViolationsAsync()
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(Ct);
        return await MarketplaceInvariants.FindViolationsAsync(connection, Ct);
    }
}
