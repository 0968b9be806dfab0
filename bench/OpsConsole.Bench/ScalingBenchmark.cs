using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpsConsole.Core.Purchases;

namespace OpsConsole.Bench;

/// <summary>
/// Benchmark 5 (issue 15): completed credit purchases (3 leads, 8 clients) at 200 workspaces and at 100,000
/// workspaces with 1M leads, each against pgbench's TPC-B-like transaction (8 clients, scale 8) in the same round:
/// server-side (pgbench itself calls the functions, one statement a purchase) and client-side (the .NET purchase
/// service, 8 buyers). Then WAL bytes and full-page images per purchase (pg_stat_wal over the server-side rounds)
/// and, with synchronous_commit off (no wait for the WAL flush), the CPU-bound rate of both sides.
/// Buyers are 8 workspaces with large balances; sellers are all the other workspaces, drawn at random per lead.
/// </summary>
internal static partial class ScalingBenchmark
{
    private const int Clients = 8;

    // Workspaces 1-8 buy; each batch is one purchase of 3 leads from random sellers; the sequence hands batches out.
    private const string SeedSql = """
        CREATE TABLE bench_batches (batch bigint PRIMARY KEY, buyer uuid NOT NULL, lead_ids uuid[] NOT NULL);
        CREATE SEQUENCE bench_batch;
        SET session_replication_role = replica;
        INSERT INTO workspaces (id, name) SELECT md5('w' || n)::uuid, 'bench ' || n FROM generate_series(1, @Workspaces) AS n;
        INSERT INTO workspace_credits (workspace_id, balance, total_purchased)
        SELECT md5('w' || n)::uuid, b, b FROM generate_series(1, @Workspaces) AS n, LATERAL (SELECT CASE WHEN n <= 8 THEN 1000000000 ELSE 0 END) AS x (b);
        INSERT INTO leads (id, workspace_id, is_marketplace_listed, marketplace_price)
        SELECT md5('l' || n)::uuid, md5('w' || (9 + abs(hashint4(n)) % (@Workspaces - 8)))::uuid, true, 1 + (n % 900) / 100.0
        FROM generate_series(1, @Leads) AS n;
        RESET session_replication_role;
        INSERT INTO bench_batches (batch, buyer, lead_ids)
        SELECT b, md5('w' || (1 + b % 8))::uuid, ARRAY[md5('l' || (3 * b - 2))::uuid, md5('l' || (3 * b - 1))::uuid, md5('l' || (3 * b))::uuid]
        FROM generate_series(1, @Leads / 3) AS b;
        """;

    // The credit purchase as the core library sends it (reserve + complete in one statement), one per transaction,
    // prepared (-M prepared) as the core library's statements are (Npgsql auto-prepares them) and as TPC-B is run:
    // parsing and planning the outer statement at every call cost 6 % of a purchase's server CPU.
    private const string PurchaseScript = """
        SELECT c.status FROM bench_batches AS b CROSS JOIN LATERAL validate_and_lock_leads_for_purchase(b.buyer, b.lead_ids, 'credits') AS v CROSS JOIN LATERAL complete_credit_lead_purchase(v.purchase_id) AS c WHERE b.batch = (SELECT nextval('bench_batch'));
        """;

    public static async Task RunAsync(BenchServer server, BenchOptions options, Report report, CancellationToken cancellationToken)
    {
        var script = Path.Combine(server.Folder, "..", $"purchase-{Guid.NewGuid():N}.pgbench");
        await File.WriteAllTextAsync(script, PurchaseScript, cancellationToken); // umask 022: readable by the server user
        try
        {
            await server.Cluster.CreateDatabaseIfMissingAsync("bench_pgbench", cancellationToken);
            await RunToolAsync(server, ["-i", "-q", "-s", "8", "bench_pgbench"], cancellationToken);
            // Enough leads for every round at up to 2,000 purchases a second (the small marketplace grows with the run).
            var sizes = new[]
            {
                ("200 workspaces", "bench_small", 200, 3 * 2000 * options.Seconds * (2 * options.Rounds + 4)),
                ("100,000 workspaces, 1M leads", "bench_large", 100_000, 1_000_000),
            };
            var serverRates = new Dictionary<string, double>();
            foreach (var (label, database, workspaces, leads) in sizes)
            {
                Console.WriteLine($"Scaling: {label}");
                var connectionString = await server.CreateMarketplaceAsync(database, cancellationToken);
                await using (var connection = new NpgsqlConnection(connectionString))
                {
                    await connection.OpenAsync(cancellationToken);
                    var clock = Stopwatch.StartNew();
                    await connection.ExecuteAsync(new CommandDefinition(SeedSql, new { Workspaces = workspaces, Leads = leads }, commandTimeout: 3600, cancellationToken: cancellationToken));
                    await connection.ExecuteAsync(new CommandDefinition("VACUUM ANALYZE", commandTimeout: 3600, cancellationToken: cancellationToken));
                    Console.WriteLine($"  seeded {workspaces:N0} workspaces, {leads:N0} leads in {clock.Elapsed.TotalSeconds:0} s");
                }

                // Warm-up, not measured: caches, the functions' plans.
                await PgbenchAsync(server, ["-M", "prepared", "-f", script], database, 2, cancellationToken);

                var serverRatios = new List<double>();
                var clientRatios = new List<double>();
                var serverTps = new List<double>();
                var clientTps = new List<double>();
                var wal = new List<(double Bytes, double Fpi)>();
                var cpu = new List<(double Purchase, double Tpcb, double Client)>();
                for (var round = 1; round <= options.Rounds; round++)
                {
                    var before = await WalAsync(server, cancellationToken);
                    var cpu0 = await ServerCpu.SecondsAsync(server);
                    var (purchases, completed) = await PurchasesAsync(server, script, connectionString, database, options.Seconds, cancellationToken);
                    var cpu1 = await ServerCpu.SecondsAsync(server);
                    var after = await WalAsync(server, cancellationToken);
                    var (tpcb, tpcbTransactions) = await PgbenchAsync(server, ["-M", "prepared"], "bench_pgbench", options.Seconds, cancellationToken);
                    var cpu2 = await ServerCpu.SecondsAsync(server);
                    var clientCpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
                    var (client, clientCompleted) = await ClientRoundAsync(connectionString, options.Seconds, cancellationToken);
                    var cpu3 = await ServerCpu.SecondsAsync(server);
                    clientCpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - clientCpu;
                    cpu.Add((1000 * (cpu1 - cpu0) / completed, 1000 * (cpu2 - cpu1) / tpcbTransactions,
                             (1000 * (cpu3 - cpu2) + clientCpu.TotalMilliseconds) / Math.Max(1, clientCompleted)));
                    var tpcb2 = (await PgbenchAsync(server, ["-M", "prepared"], "bench_pgbench", options.Seconds, cancellationToken)).Tps;
                    serverTps.Add(purchases);
                    clientTps.Add(client);
                    serverRatios.Add(purchases / tpcb);
                    clientRatios.Add(client / tpcb2);
                    wal.Add(((after.Bytes - before.Bytes) / (double)completed, (after.Fpi - before.Fpi) / (double)completed));
                    Console.WriteLine($"  round {round}: server-side {purchases:0.0}/s vs TPC-B {tpcb:0.0} ({purchases / tpcb:0.00}), " +
                                      $"client-side {client:0.0}/s vs TPC-B {tpcb2:0.0} ({client / tpcb2:0.00}), WAL {wal[^1].Bytes:0} B and {wal[^1].Fpi:0.00} FPI a purchase, " +
                                      $"server CPU {cpu[^1].Purchase:0.00} ms a purchase vs {cpu[^1].Tpcb:0.00} ms a TPC-B transaction, client-side purchase {cpu[^1].Client:0.00} ms (server + .NET)");
                }

                serverRates[label] = Stats.Median(cpu.Select(c => c.Purchase));
                report.Add("5. scaling", $"{label}: server CPU per purchase (server-side), median", Stats.Ms(Stats.Median(cpu.Select(c => c.Purchase))));
                report.Add("5. scaling", $"{label}: server CPU per TPC-B transaction, median", Stats.Ms(Stats.Median(cpu.Select(c => c.Tpcb))));
                var cpuRatio = Stats.Median(cpu.Select(c => c.Tpcb / c.Purchase));
                report.Add("5. scaling", $"{label}: CPU-bound ratio, TPC-B CPU / purchase CPU (server-side), median", Stats.F(cpuRatio), ">= 0.80", cpuRatio >= 0.8);
                report.Add("5. scaling", $"{label}: CPU per client-side purchase (server + .NET process), median", Stats.Ms(Stats.Median(cpu.Select(c => c.Client))));
                report.Add("5. scaling", $"{label}: server-side purchases/s, median", Stats.F(Stats.Median(serverTps), "0.0"));
                report.Add("5. scaling", $"{label}: server-side / TPC-B, median of rounds", Stats.F(Stats.Median(serverRatios)), ">= 0.80", Stats.Median(serverRatios) >= 0.8);
                report.Add("5. scaling", $"{label}: client-side (.NET) purchases/s, median", Stats.F(Stats.Median(clientTps), "0.0"));
                report.Add("5. scaling", $"{label}: client-side / TPC-B, median of rounds", Stats.F(Stats.Median(clientRatios)), ">= 0.80", Stats.Median(clientRatios) >= 0.8);
                report.Add("5. scaling", $"{label}: WAL per purchase, median", Stats.F(Stats.Median(wal.Select(w => w.Bytes)), "0") + " B");
                report.Add("5. scaling", $"{label}: full-page images per purchase, median", Stats.F(Stats.Median(wal.Select(w => w.Fpi))));

                // CPU ceiling: no wait for WAL flushes, so what is left is CPU (and row locks).
                await SetSynchronousCommitAsync(server, "off", cancellationToken);
                try
                {
                    var (offPurchases, _) = await PurchasesAsync(server, script, connectionString, database, options.Seconds, cancellationToken);
                    var offTpcb = (await PgbenchAsync(server, ["-M", "prepared"], "bench_pgbench", options.Seconds, cancellationToken)).Tps;
                    report.Add("5. scaling", $"{label}: synchronous_commit off, server-side purchases/s (CPU ceiling)", Stats.F(offPurchases, "0.0"));
                    report.Add("5. scaling", $"{label}: synchronous_commit off, purchases / TPC-B (CPU per purchase relative to TPC-B's)", Stats.F(offPurchases / offTpcb));
                }
                finally
                {
                    await SetSynchronousCommitAsync(server, "on", cancellationToken);
                }
            }

            // Cost, not rate: a rate measured on a shared machine follows the other processes' load.
            var scaling = serverRates[sizes[0].Item1] / serverRates[sizes[1].Item1];
            report.Add("5. scaling", "server CPU per purchase at 200 workspaces / at 100,000 (the rate ratio it implies)", Stats.F(scaling), ">= 0.95", scaling >= 0.95);
        }
        finally
        {
            File.Delete(script);
        }
    }

    // The core library's credit purchase, 8 buyers, each taking the next batch from the shared sequence's range.
    private static async Task<(double Rate, int Completed)> ClientRoundAsync(string connectionString, int seconds, CancellationToken cancellationToken)
    {
        var batches = new ConcurrentQueue<(Guid Buyer, Guid[] Leads)>();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync(cancellationToken);
            var rows = await connection.QueryAsync<(Guid, Guid[])>(new CommandDefinition("""
                WITH taken AS (SELECT nextval('bench_batch') AS first, setval('bench_batch', nextval('bench_batch') + @Count) AS last)
                SELECT b.buyer, b.lead_ids FROM bench_batches AS b, taken AS t WHERE b.batch > t.first AND b.batch <= t.last ORDER BY b.batch
                """, new { Count = 4000 * seconds }, cancellationToken: cancellationToken));
            foreach (var row in rows)
            {
                batches.Enqueue(row);
            }
        }

        await using var services = BenchServer.Services(connectionString);
        var purchases = services.GetRequiredService<IPurchaseService>();
        var completed = 0;
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < deadline && batches.TryDequeue(out var batch))
            {
                var result = await purchases.PurchaseWithCreditsAsync(batch.Buyer, batch.Leads, "bench", cancellationToken);
                if (result.Outcome == PurchaseOutcome.Completed)
                {
                    Interlocked.Increment(ref completed);
                }
            }
        }, cancellationToken)));
        return (completed / clock.Elapsed.TotalSeconds, completed);
    }

    // pgbench's rate of the purchase script, counting completed purchases only (a transaction that found no batch
    // left, or did not complete, is not a purchase).
    private static async Task<(double Rate, long Completed)> PurchasesAsync(
        BenchServer server, string script, string connectionString, string database, int seconds, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        const string count = "SELECT count(*) FROM marketplace_purchases WHERE status = 'completed'";
        var before = await connection.ExecuteScalarAsync<long>(count);
        var (tps, transactions) = await PgbenchAsync(server, ["-M", "prepared", "-f", script], database, seconds, cancellationToken);
        var completed = await connection.ExecuteScalarAsync<long>(count) - before;
        return (tps * completed / transactions, completed);
    }

    private static async Task<(double Tps, long Transactions)> PgbenchAsync(BenchServer server, string[] mode, string database, int seconds, CancellationToken cancellationToken)
    {
        var output = await RunToolAsync(server, [.. mode, "-n", "-c", $"{Clients}", "-j", "2", "-T", $"{seconds}", database], cancellationToken);
        var tps = TpsLine().Match(output);
        var done = Processed().Match(output);
        if (!tps.Success || !done.Success || output.Contains("aborted", StringComparison.Ordinal) && !output.Contains("number of failed transactions: 0", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("pgbench failed: " + output);
        }

        return (double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(done.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private static async Task<string> RunToolAsync(BenchServer server, string[] args, CancellationToken cancellationToken)
    {
        var run = await server.Cluster.RunToolAsync("pgbench", ["-h", "127.0.0.1", "-p", $"{server.Cluster.Port}", "-U", "postgres", .. args], cancellationToken);
        if (run.ExitCode != 0)
        {
            throw new InvalidOperationException($"pgbench {string.Join(' ', args)} failed: {run.Output}");
        }

        return run.Output;
    }

    private static async Task<(long Bytes, long Fpi)> WalAsync(BenchServer server, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(server.Cluster.ConnectionString());
        await connection.OpenAsync(cancellationToken);
        return await connection.QuerySingleAsync<(long, long)>("SELECT wal_bytes::int8, wal_fpi FROM pg_stat_wal");
    }

    private static async Task SetSynchronousCommitAsync(BenchServer server, string value, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(server.Cluster.ConnectionString());
        await connection.OpenAsync(cancellationToken);
        await connection.ExecuteAsync($"ALTER SYSTEM SET synchronous_commit = {value}");
        await connection.ExecuteAsync("SELECT pg_reload_conf()");
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex TpsLine();

    [GeneratedRegex(@"number of transactions actually processed: ([0-9]+)")]
    private static partial Regex Processed();
}
