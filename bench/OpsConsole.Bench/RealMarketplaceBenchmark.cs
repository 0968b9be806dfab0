using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using OpsConsole.Testing.RealMarketplace;

namespace OpsConsole.Bench;

/// <summary>
/// Issue 23's speed goals on the marketplace's own schema (cdacbd82), with pgbench driving 8 clients on
/// disjoint leads (scripts in bench/real-marketplace/):
/// the app's call sequence through the drop-in against the same sequence through the shipped fix (>= 0.9),
/// and the console's credit purchase (the same calls in one transaction) against the floor, one hand-written
/// statement making the same row changes (>= 0.9). Rounds interleave the variants so all see the same machine.
/// pgbench is PostgreSQL's own load driver: no client code of ours sits between the scripts and the server.
/// </summary>
internal static partial class RealMarketplaceBenchmark
{
    private const int Clients = 8;
    private const int LeadsPerPurchase = 3;

    // A generous ceiling of purchases per second per variant, to seed enough leads for every round.
    private const int MaxPurchasesPerSecond = 2500;

    private sealed record Variant(string Name, string Database, string Script, string[] Files);

    public static async Task RunAsync(BenchServer server, BenchOptions options, Report report, CancellationToken cancellationToken)
    {
        Variant[] variants =
        [
            new("shipped fix, app calls", "bench_rm_shipped", "app-call-sequence.pgbench",
                [RealMarketplaceDatabase.SchemaFile, RealMarketplaceDatabase.ShippedFixFile]),
            new("drop-in, app calls", "bench_rm_dropin", "app-call-sequence.pgbench",
                [RealMarketplaceDatabase.SchemaFile, RealMarketplaceDatabase.DropInFile]),
            new("drop-in, console purchase", "bench_rm_console", "console-purchase.pgbench",
                [RealMarketplaceDatabase.SchemaFile, RealMarketplaceDatabase.DropInFile]),
            new("floor", "bench_rm_floor", "floor.pgbench",
                [RealMarketplaceDatabase.SchemaFile, RealMarketplaceDatabase.DropInFile]),
        ];

        var leadsPerRound = MaxPurchasesPerSecond * options.Seconds * LeadsPerPurchase;
        var leads = leadsPerRound * (options.Rounds + 1);
        Console.WriteLine($"Real marketplace: {options.Rounds} rounds of {options.Seconds} s, {Clients} clients, " +
                          $"{leads:N0} leads per database, synchronous_commit {options.SynchronousCommit}");
        foreach (var variant in variants)
        {
            await BuildAsync(server, variant, leads, options.SynchronousCommit, cancellationToken);
        }

        var rates = variants.ToDictionary(v => v.Name, _ => new List<double>());
        for (var round = 0; round <= options.Rounds; round++)
        {
            foreach (var variant in variants)
            {
                var rate = await PgbenchAsync(server, variant, round * leadsPerRound, options, cancellationToken);
                if (round > 0)
                {
                    rates[variant.Name].Add(rate);
                }
            }

            // Round 0 warms caches and plans and is not counted.
            Console.WriteLine(round == 0
                ? "  warm-up round done"
                : $"  round {round}: " + string.Join(", ", variants.Select(v => $"{v.Name} {rates[v.Name][^1]:0.0}/s")));
        }

        var section = $"real marketplace (synchronous_commit {options.SynchronousCommit})";
        foreach (var variant in variants)
        {
            report.Add(section, $"{variant.Name}: completed purchases/s (3 leads, {Clients} clients), median",
                Stats.F(Stats.Median(rates[variant.Name]), "0.0"));
        }

        var dropInVsShipped = Stats.Median(rates[variants[1].Name].Zip(rates[variants[0].Name], (d, s) => d / s));
        var consoleVsFloor = Stats.Median(rates[variants[2].Name].Zip(rates[variants[3].Name], (c, f) => c / f));
        var appVsFloor = Stats.Median(rates[variants[1].Name].Zip(rates[variants[3].Name], (a, f) => a / f));
        report.Add(section, "drop-in / shipped fix, app call sequence, median of rounds", Stats.F(dropInVsShipped), ">= 0.90", dropInVsShipped >= 0.9);
        report.Add(section, "console purchase / floor, median of rounds", Stats.F(consoleVsFloor), ">= 0.90", consoleVsFloor >= 0.9);
        report.Add(section, "app call sequence (drop-in) / floor, median of rounds (6 round trips, 4 commits vs 1)", Stats.F(appVsFloor));
    }

    private static async Task BuildAsync(BenchServer server, Variant variant, int leads, string synchronousCommit, CancellationToken cancellationToken)
    {
        await server.Cluster.CreateDatabaseIfMissingAsync(variant.Database, cancellationToken);
        // "off" shows the CPU ceiling: commits no longer wait for the WAL flush.
        await PsqlAsync(server, variant.Database, ["-c", $"ALTER DATABASE {variant.Database} SET synchronous_commit = {synchronousCommit}"], cancellationToken);
        foreach (var file in variant.Files)
        {
            await PsqlAsync(server, variant.Database, ["-f", RealMarketplaceDatabase.RepositoryPath(file)], cancellationToken);
        }

        await PsqlAsync(server, variant.Database,
            ["-v", $"leads={leads}", "-f", RealMarketplaceDatabase.RepositoryPath("bench/real-marketplace/seed.sql")], cancellationToken);
        await using var connection = new NpgsqlConnection(server.Cluster.ConnectionString(variant.Database));
        await connection.OpenAsync(cancellationToken);
        await using var vacuum = new NpgsqlCommand("VACUUM ANALYZE", connection);
        await vacuum.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<double> PgbenchAsync(BenchServer server, Variant variant, int firstLead, BenchOptions options, CancellationToken cancellationToken)
    {
        var completedBefore = await CompletedAsync(server, variant, cancellationToken);
        var run = await server.Cluster.RunToolAsync("pgbench",
            [.. Connection(server), "-n", "-M", "prepared", "-c", $"{Clients}", "-j", "2", "-T", $"{options.Seconds}",
             "-D", "c=0", "-D", $"base={firstLead}", "-f", RealMarketplaceDatabase.RepositoryPath("bench/real-marketplace/" + variant.Script),
             variant.Database],
            cancellationToken);
        var tps = TpsLine().Match(run.Output);
        var transactions = TransactionsLine().Match(run.Output);
        if (run.ExitCode != 0 || !tps.Success || !transactions.Success)
        {
            throw new InvalidOperationException($"pgbench {variant.Script} on {variant.Database} failed: {run.Output}");
        }

        // Every transaction must have completed a purchase, or the rate would count refusals.
        var completed = await CompletedAsync(server, variant, cancellationToken) - completedBefore;
        var processed = long.Parse(transactions.Groups[1].Value, CultureInfo.InvariantCulture);
        if (completed != processed)
        {
            throw new InvalidOperationException($"{variant.Name}: pgbench ran {processed} transactions but {completed} purchases completed.");
        }

        return double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static async Task<long> CompletedAsync(BenchServer server, Variant variant, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(server.Cluster.ConnectionString(variant.Database));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM marketplace_purchases WHERE status = 'completed'", connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task PsqlAsync(BenchServer server, string database, string[] arguments, CancellationToken cancellationToken)
    {
        var run = await server.Cluster.RunToolAsync("psql", [.. Connection(server), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database, .. arguments], cancellationToken);
        if (run.ExitCode != 0)
        {
            throw new InvalidOperationException($"psql {string.Join(' ', arguments)} on {database} failed: {run.Output}");
        }
    }

    private static string[] Connection(BenchServer server) => ["-h", "127.0.0.1", "-p", $"{server.Cluster.Port}", "-U", "postgres"];

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex TpsLine();

    [GeneratedRegex(@"number of transactions actually processed: ([0-9]+)")]
    private static partial Regex TransactionsLine();
}
