using System.Globalization;
using System.Text;
using System.Text.Json;
using OpsConsole.Auth;
using OpsConsole.Core.Actions;
using OpsConsole.Core.Credits;

namespace OpsConsole.Endpoints;

/// <summary>
/// The credit editor's JSON API, for scripts and checks: the same <see cref="CreditService"/> as the page, with the
/// same permission checks (the service's, answered as ProblemDetails through <see cref="OpsResultHttp"/>), cookie
/// authentication like the pages. Every change takes JSON from the console's own origin (<see cref="SameOriginJson"/>).
/// Every refusal writes nothing.
/// </summary>
public static class CreditEndpoints
{
    public const string AdjustmentsPath = "/api/credits/adjustments";
    public const string DriftCsvPath = "/api/credits/drift.csv";
    public const string JournalCsvPath = "/api/credits/adjustments.csv";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IEndpointRouteBuilder MapCreditEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var credits = endpoints.MapGroup("/api/credits");
        // Every change: JSON, and from the console's own pages or a script that says so (SameOriginJson).
        var changes = credits.MapGroup("").RequireSameOriginJson();

        credits.MapGet("/drift", async (HttpContext http, OpsActors actors, CreditService service, CancellationToken ct) =>
            (await service.ListDriftAsync(await actors.ForAsync(http.User, ct), ct)).ToHttp(TypedResults.Ok));

        credits.MapGet("/drift.csv", async (HttpContext http, OpsActors actors, CreditService service, CancellationToken ct) =>
            (await service.ExportDriftAsync(await actors.ForAsync(http.User, ct), ct)).ToHttp(csv => Csv(csv, "credit-drift")));

        credits.MapGet("/workspaces/{workspaceId:guid}", async (Guid workspaceId, HttpContext http, OpsActors actors, CreditService service, CancellationToken ct) =>
            (await service.GetWorkspaceAsync(await actors.ForAsync(http.User, ct), workspaceId, ct)).ToHttp(TypedResults.Ok));

        // page is read as text: an int parameter that fails to bind throws, which Development shows as a stack trace.
        credits.MapGet("/workspaces/{workspaceId:guid}/history", async (Guid workspaceId, string? page, HttpContext http, OpsActors actors, CreditService service, CancellationToken ct) =>
        {
            if (!int.TryParse(page ?? "1", NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                return Refusal.Invalid($"page '{page}' is not a page number: pages are counted from 1.").ToProblem();
            }

            return (await service.GetHistoryAsync(await actors.ForAsync(http.User, ct), workspaceId, number, ct)).ToHttp(TypedResults.Ok);
        });

        credits.MapGet("/adjustments", async (string? workspaceId, string? status, HttpContext http, OpsActors actors, CreditService service, CancellationToken ct) =>
        {
            if (ParseWorkspace(workspaceId, out var workspace) is { } invalid)
            {
                return invalid.ToProblem();
            }

            return (await service.ListAdjustmentsAsync(await actors.ForAsync(http.User, ct), workspace, Blank(status), ct)).ToHttp(TypedResults.Ok);
        });

        credits.MapGet("/adjustments.csv", async (string? workspaceId, string? status, HttpContext http, OpsActors actors, CreditService service, CancellationToken ct) =>
        {
            if (ParseWorkspace(workspaceId, out var workspace) is { } invalid)
            {
                return invalid.ToProblem();
            }

            return (await service.ExportJournalAsync(await actors.ForAsync(http.User, ct), workspace, Blank(status), ct)).ToHttp(csv => Csv(csv, "credit-journal"));
        });

        credits.MapGet("/adjustments/{id:long}", async (long id, HttpContext http, OpsActors actors, CreditService service, CancellationToken ct) =>
            (await service.GetAdjustmentAsync(await actors.ForAsync(http.User, ct), id, ct)).ToHttp(TypedResults.Ok));

        changes.MapPost("/adjustments", async (HttpContext http, OpsActors actors, CreditService service, CancellationToken ct) =>
        {
            var actor = await actors.ForAsync(http.User, ct);
            var (body, invalid) = await ReadAsync<AdjustmentBody>(http, actor, ct);
            if (invalid is not null)
            {
                return invalid.ToProblem();
            }

            if (body!.WorkspaceId is not { } workspaceId)
            {
                return Refusal.Invalid("workspaceId is missing.").ToProblem();
            }

            var deltas = new CreditDeltas(body.BalanceDelta ?? 0, body.TotalPurchasedDelta ?? 0, body.TotalEarnedDelta ?? 0, body.TotalUsedDelta ?? 0);
            var result = await service.AdjustAsync(actor, new AdjustmentRequest(workspaceId, body.ExpectedVersion, deltas, body.Reason, body.Ticket), ct);
            return result.ToHttp(Created);
        });

        changes.MapPost("/adjustments/{id:long}/approve", (long id, HttpContext http, OpsActors actors, CreditService service, CancellationToken ct) =>
            DecideAsync(http, actors, ct, (actor, reason) => service.ApproveAsync(actor, id, reason, ct), TypedResults.Ok));

        changes.MapPost("/adjustments/{id:long}/reject", (long id, HttpContext http, OpsActors actors, CreditService service, CancellationToken ct) =>
            DecideAsync(http, actors, ct, (actor, reason) => service.RejectAsync(actor, id, reason, ct), TypedResults.Ok));

        changes.MapPost("/adjustments/{id:long}/reverse", (long id, HttpContext http, OpsActors actors, CreditService service, CancellationToken ct) =>
            DecideAsync(http, actors, ct, (actor, reason) => service.ReverseAsync(actor, id, reason, ct), Created));

        return endpoints;
    }

    private static async Task<IResult> DecideAsync(
        HttpContext http, OpsActors actors, CancellationToken ct, Func<OpsActor, string?, Task<OpsResult<AdjustmentOutcome>>> decide,
        Func<AdjustmentOutcome, IResult> onSuccess)
    {
        var actor = await actors.ForAsync(http.User, ct);
        var (body, invalid) = await ReadAsync<ReasonBody>(http, actor, ct);
        return invalid is not null ? invalid.ToProblem() : (await decide(actor, body!.Reason)).ToHttp(onSuccess);
    }

    private static IResult Created(AdjustmentOutcome outcome) => TypedResults.Created($"{AdjustmentsPath}/{outcome.Id}", outcome);

    // The permission first (a refused role learns nothing about its body), then the body: JSON, or a 400 that says so.
    private static async Task<(T? Body, Refusal? Refusal)> ReadAsync<T>(HttpContext http, OpsActor actor, CancellationToken ct)
        where T : class
    {
        if (actor.Lacks(OpsPermissions.EditCredits) is { } forbidden)
        {
            return (null, forbidden);
        }

        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(http.Request.Body, Json, ct);
            return body is null ? (null, Refusal.Invalid("The request body is empty: send a JSON object.")) : (body, null);
        }
        catch (JsonException e)
        {
            return (null, Refusal.Invalid($"The request body is not the JSON this call takes: {e.Message}"));
        }
    }

    private static Refusal? ParseWorkspace(string? text, out Guid? workspace)
    {
        workspace = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (!Guid.TryParse(text, out var id))
        {
            return Refusal.Invalid($"workspaceId '{text}' is not a workspace id (a UUID).");
        }

        workspace = id;
        return null;
    }

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;

    private static IResult Csv(string csv, string name) =>
        TypedResults.File(Encoding.UTF8.GetBytes(csv), "text/csv", $"{name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}.csv");

    /// <summary>The body of <c>POST /api/credits/adjustments</c>; a missing delta is 0.</summary>
    public sealed record AdjustmentBody(
        Guid? WorkspaceId, string? ExpectedVersion, decimal? BalanceDelta, decimal? TotalPurchasedDelta, decimal? TotalEarnedDelta,
        decimal? TotalUsedDelta, string? Reason, string? Ticket);

    /// <summary>The body of approve, reject and reverse.</summary>
    public sealed record ReasonBody(string? Reason);
}
