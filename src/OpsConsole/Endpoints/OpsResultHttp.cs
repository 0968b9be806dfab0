using OpsConsole.Core.Actions;

namespace OpsConsole.Endpoints;

/// <summary>The one mapping of Core refusals to HTTP: a ProblemDetails body whose detail is the refusal's message.</summary>
public static class OpsResultHttp
{
    /// <summary>The status code of each refusal kind.</summary>
    public static int StatusCodeOf(RefusalKind kind) => kind switch
    {
        RefusalKind.Forbidden => StatusCodes.Status403Forbidden,
        RefusalKind.NotFound => StatusCodes.Status404NotFound,
        RefusalKind.Conflict => StatusCodes.Status409Conflict,
        RefusalKind.Invalid => StatusCodes.Status400BadRequest,
        RefusalKind.Rule => StatusCodes.Status422UnprocessableEntity,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>A refusal as ProblemDetails; its <see cref="Refusal.Detail"/>, when set, goes out as the extension <c>current</c>.</summary>
    public static IResult ToProblem(this Refusal refusal) => TypedResults.Problem(
        title: TitleOf(refusal.Kind),
        detail: refusal.Message,
        statusCode: StatusCodeOf(refusal.Kind),
        extensions: refusal.Detail is null ? null : new Dictionary<string, object?> { ["current"] = refusal.Detail });

    /// <summary>The value as <paramref name="onSuccess"/> makes it, or the refusal as ProblemDetails.</summary>
    public static IResult ToHttp<T>(this OpsResult<T> result, Func<T, IResult> onSuccess) =>
        result.Succeeded ? onSuccess(result.Value) : result.Refusal!.ToProblem();

    /// <summary>204 No Content, or the refusal as ProblemDetails.</summary>
    public static IResult ToHttp(this OpsResult result) =>
        result.Succeeded ? TypedResults.NoContent() : result.Refusal!.ToProblem();

    private static string TitleOf(RefusalKind kind) => kind switch
    {
        RefusalKind.Forbidden => "Not allowed",
        RefusalKind.NotFound => "Not found",
        RefusalKind.Conflict => "Changed meanwhile or not in the right state",
        RefusalKind.Invalid => "Invalid request",
        RefusalKind.Rule => "Refused by a rule",
        _ => "Refused",
    };
}
