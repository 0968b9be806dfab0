using Dapper;
using Npgsql;
using OpsConsole.Core.Actions;

namespace OpsConsole.Core.Purchases.Drill;

/// <summary>
/// The concurrency drill: on a staging marketplace database it creates tagged drill rows (workspaces, auth users,
/// users, a partner, a topic and query, leads, credits), then each round a card buyer starts a checkout whose
/// reservation runs out, <see cref="DrillParameters.Buyers"/> buyers rush that round's leads with the app's call
/// sequence (<see cref="AppCallReplay"/>), every other one retries its completion, a credit buyer takes the card's
/// lead if the rush did not, and the card payment's webhook arrives last. It counts on the drill rows what went wrong (<see cref="DrillFailure"/>) and removes its rows
/// whether it finished, failed or was cancelled.
/// </summary>
/// <remarks>
/// It refuses a database whose name is not in <see cref="DrillOptions.AllowedDatabases"/> and one that lacks the
/// marketplace's tables or purchase functions. It calls as the role its data source connects with.
/// </remarks>
public sealed class ConcurrencyDrill(NpgsqlDataSource target, DrillOptions options, TimeProvider? time = null)
{
    /// <summary>How many example ids a finding carries at most.</summary>
    public const int MaxExamples = 5;

    private static readonly string[] Tables =
    [
        "public.workspaces", "auth.users", "public.users", "public.partners", "public.global_topics", "public.queries",
        "public.leads", "public.workspace_credits", "public.marketplace_purchases", "public.marketplace_purchase_items",
        "public.audit_logs",
    ];

    private static readonly string[] Functions =
        ["validate_and_lock_leads_for_purchase", "complete_credit_lead_purchase", "complete_stripe_lead_purchase"];

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Runs the drill; refused (nothing written) when the target or the parameters do not qualify.</summary>
    public async Task<OpsResult<DrillReport>> RunAsync(DrillParameters parameters, IProgress<DrillProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Check() is { } invalid)
        {
            return invalid;
        }

        var found = await InspectAsync(cancellationToken);
        if (Refuse(found) is { } refusal)
        {
            return refusal;
        }

        var tag = DrillRows.NewTag();
        progress?.Report(new DrillProgress(0, parameters.Rounds, "creating the drill rows"));
        Rounds rounds;
        int removed;
        try
        {
            var scene = await DrillRows.CreateAsync(target, tag, parameters, cancellationToken);
            rounds = await RunRoundsAsync(scene, parameters, found.HasReservations, progress, cancellationToken);
            progress?.Report(new DrillProgress(parameters.Rounds + 1, parameters.Rounds, "counting what went wrong"));
            rounds = rounds with { Tally = await DrillRows.MeasureAsync(target, scene, MaxExamples, cancellationToken) };
        }
        finally
        {
            progress?.Report(new DrillProgress(parameters.Rounds + 1, parameters.Rounds, "removing the drill rows"));
            removed = await RemoveOwnRowsAsync(tag);
        }

        var t = rounds.Tally!;
        DrillFinding[] findings =
        [
            new(DrillFailure.LeadSoldMoreThanOnce, t.SoldTwice, t.SoldTwiceExamples),
            new(DrillFailure.ChargeOffItems, t.OffItems, t.OffItemsExamples),
            new(DrillFailure.RetryChargedAgain, rounds.RetriesChargedAgain.Count, rounds.RetriesChargedAgain.Take(MaxExamples).ToList()),
            new(DrillFailure.RowOffFormula, t.OffFormula, t.OffFormulaExamples),
            new(DrillFailure.LateCardPaymentSoldAgain, t.SoldAgain, t.SoldAgainExamples),
        ];
        return new DrillReport(
            tag, found.Database, parameters, rounds.Seconds,
            rounds.Stages.GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count()),
            t.CompletedPurchases, t.LateCardPayments, t.RefundRequired, findings, removed);
    }

    /// <summary>
    /// Removes what drills left on the target (a process killed mid-drill cannot clean up): every row carrying a drill
    /// tag, or only <paramref name="drillId"/>'s. Returns how many rows went. Refused like <see cref="RunAsync"/>.
    /// </summary>
    public async Task<OpsResult<int>> CleanupAsync(string? drillId, CancellationToken cancellationToken)
    {
        if (drillId is not null && !DrillRows.IsTag(drillId))
        {
            return Refusal.Invalid($"'{drillId}' is not a drill id: they read {DrillRows.TagPrefix} and 12 hex digits.");
        }

        if (Refuse(await InspectAsync(cancellationToken)) is { } refusal)
        {
            return refusal;
        }

        return await DrillRows.RemoveAsync(target, drillId, cancellationToken);
    }

    private Refusal? Refuse(Target found)
    {
        if (!options.AllowedDatabases.Contains(found.Database, StringComparer.Ordinal))
        {
            var listed = options.AllowedDatabases.Length == 0 ? "the list is empty" : "listed: " + string.Join(", ", options.AllowedDatabases);
            return Refusal.Forbidden(
                $"The drill writes rows and makes purchases, so it runs only on a staging database named in " +
                $"{DrillOptions.Section}:AllowedDatabases; '{found.Database}' is not ({listed}).");
        }

        var missing = found.MissingTables.Concat(found.MissingFunctions.Select(f => f + "()")).ToList();
        if (!found.HasListingStatus)
        {
            missing.Add("column leads.marketplace_status (added by the fix)");
        }

        return missing.Count == 0
            ? null
            : Refusal.Rule($"'{found.Database}' is not a marketplace database with the purchase fix installed; it lacks {string.Join(", ", missing)}.");
    }

    private async Task<Target> InspectAsync(CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT current_database() AS Database,
                   array(SELECT t FROM unnest(@Tables) AS t WHERE to_regclass(t) IS NULL ORDER BY t) AS MissingTables,
                   array(SELECT f FROM unnest(@Functions) AS f
                         WHERE NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.proname = f AND p.pronamespace = 'public'::regnamespace)
                         ORDER BY f) AS MissingFunctions,
                   EXISTS (SELECT 1 FROM information_schema.columns
                           WHERE table_schema = 'public' AND table_name = 'leads' AND column_name = 'marketplace_status') AS HasListingStatus,
                   EXISTS (SELECT 1 FROM information_schema.columns
                           WHERE table_schema = 'public' AND table_name = 'leads' AND column_name = 'reserved_until') AS HasReservations
            """;
        await using var connection = await target.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleAsync<Target>(new CommandDefinition(sql, new { Tables, Functions }, cancellationToken: cancellationToken));
    }

    private async Task<Rounds> RunRoundsAsync(
        DrillScene scene, DrillParameters parameters, bool hasReservations, IProgress<DrillProgress>? progress, CancellationToken cancellationToken)
    {
        var start = _time.GetTimestamp();
        var stages = new List<ReplayStage>();
        var chargedAgain = new List<Guid>();
        for (var round = 1; round <= parameters.Rounds; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new DrillProgress(round, parameters.Rounds, $"{parameters.Buyers} buyers rush {parameters.Leads} leads"));
            var leads = scene.LeadIds.Skip((round - 1) * parameters.Leads).Take(parameters.Leads).ToList();
            var card = await StartLateCardCheckoutAsync(scene.CardBuyer, leads[0], hasReservations, cancellationToken);

            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var rush = scene.Buyers.Select((buyer, n) => Task.Run(async () =>
            {
                await go.Task.WaitAsync(cancellationToken);
                return await BuyAsync(buyer, n, leads, parameters.Retries, cancellationToken);
            }, cancellationToken)).ToList();
            go.SetResult();
            foreach (var (outcome, charged) in await Task.WhenAll(rush))
            {
                stages.Add(outcome.Stage);
                if (charged)
                {
                    chargedAgain.Add(outcome.PurchaseId!.Value);
                }
            }

            if (card.Stage == ReplayStage.CheckoutStarted)
            {
                if (!await SoldAsync(leads[0], cancellationToken))
                {
                    // The rush left the card's lead alone: a credit buyer takes it now, so every round's webhook is late.
                    stages.Add((await AppCallReplay.BuyWithCreditsAsync(target, scene.Buyers[0], [leads[0]], completionCalls: 1, cancellationToken)).Stage);
                }

                await DeliverWebhookAsync(card.PurchaseId!.Value, cancellationToken);
            }
        }

        return new Rounds(_time.GetElapsedTime(start).TotalSeconds, stages, chargedAgain, null);
    }

    // The card buyer's checkout takes longer than its reservation, so the lead is back on sale while the payment is
    // under way: the webhook then has to notice that a credit buyer took it.
    private async Task<ReplayOutcome> StartLateCardCheckoutAsync(AppBuyer cardBuyer, Guid lead, bool hasReservations, CancellationToken cancellationToken)
    {
        var card = await AppCallReplay.StartCardCheckoutAsync(target, cardBuyer, [lead], cancellationToken);
        if (card.Stage == ReplayStage.CheckoutStarted && hasReservations)
        {
            const string sql = """
                UPDATE leads SET reserved_until = now() - interval '1 second'
                WHERE id = @Lead AND reserved_for_workspace_id = @Workspace
                """;
            await using var connection = await target.OpenConnectionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(sql, new { Lead = lead, Workspace = cardBuyer.WorkspaceId }, cancellationToken: cancellationToken));
        }

        return card;
    }

    // Even buyers ask for all the round's leads, odd ones for a window of half of them, so the shapes overlap
    // differently; odd buyers also retry a completion that succeeded, and a retry that lowers the balance again is counted.
    private async Task<(ReplayOutcome Outcome, bool ChargedAgain)> BuyAsync(
        AppBuyer buyer, int n, List<Guid> leads, int retries, CancellationToken cancellationToken)
    {
        var window = Math.Max(1, leads.Count / 2);
        var shape = n % 2 == 0 ? leads : leads.Skip(n % (leads.Count - window + 1)).Take(window).ToList();
        var outcome = await AppCallReplay.BuyWithCreditsAsync(target, buyer, shape, completionCalls: 1, cancellationToken);
        if (n % 2 == 0 || retries == 0 || outcome.Stage != ReplayStage.Completed)
        {
            return (outcome, false);
        }

        var before = await BalanceAsync(buyer, cancellationToken);
        for (var retry = 0; retry < retries; retry++)
        {
            await AppCallReplay.CompleteCreditPurchaseAsync(target, buyer, outcome.PurchaseId!.Value, outcome.TotalPrice, cancellationToken);
        }

        return (outcome, await BalanceAsync(buyer, cancellationToken) < before);
    }

    private async Task DeliverWebhookAsync(Guid purchaseId, CancellationToken cancellationToken)
    {
        try
        {
            await AppCallReplay.DeliverCheckoutCompletedAsync(target, purchaseId, cancellationToken);
        }
        catch (PostgresException)
        {
            // The webhook answers 500 and Stripe retries later; what the rows show afterwards is what the drill counts.
        }
    }

    private async Task<bool> SoldAsync(Guid lead, CancellationToken cancellationToken)
    {
        const string sql = "SELECT coalesce(sold_count, 0) > 0 FROM leads WHERE id = @Lead";
        await using var connection = await target.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleAsync<bool>(new CommandDefinition(sql, new { Lead = lead }, cancellationToken: cancellationToken));
    }

    private async Task<decimal> BalanceAsync(AppBuyer buyer, CancellationToken cancellationToken)
    {
        const string sql = "SELECT balance::numeric FROM workspace_credits WHERE workspace_id = @WorkspaceId";
        await using var connection = await target.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleAsync<decimal>(new CommandDefinition(sql, new { buyer.WorkspaceId }, cancellationToken: cancellationToken));
    }

    // Not the caller's token: a cancelled drill still removes its rows, within the clean-up's own time limit.
    private async Task<int> RemoveOwnRowsAsync(string tag)
    {
        using var timeout = new CancellationTokenSource(options.CleanupTimeout);
        try
        {
            return await DrillRows.RemoveAsync(target, tag, timeout.Token);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            throw new InvalidOperationException(
                $"The drill could not remove its rows (drill id {tag}): run the drill's clean-up for that id on this database. {e.Message}", e);
        }
    }

    // A class, not a positional record: Dapper hands arrays to constructors as System.Array.
    private sealed class Target
    {
        public string Database { get; init; } = "";
        public string[] MissingTables { get; init; } = [];
        public string[] MissingFunctions { get; init; } = [];
        public bool HasListingStatus { get; init; }
        public bool HasReservations { get; init; }
    }

    private sealed record Rounds(double Seconds, List<ReplayStage> Stages, List<Guid> RetriesChargedAgain, DrillTally? Tally);
}
