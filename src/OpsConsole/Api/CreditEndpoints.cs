using OpsConsole.Auth;

namespace OpsConsole.Api;

/// <summary>
/// The credit editor's server-side entry points. Only the authorization exists yet: the credit
/// reconciliation editor (roadmap) gives <c>POST /api/credits/adjustments</c> its body, and keeps the policy.
/// </summary>
public static class CreditEndpoints
{
    public const string AdjustmentsPath = "/api/credits/adjustments";

    public static IEndpointRouteBuilder MapCreditEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost(AdjustmentsPath, () => TypedResults.Problem(
                title: "Credit adjustments are not available yet",
                detail: "They arrive with the credit reconciliation editor.",
                statusCode: StatusCodes.Status501NotImplemented))
            .RequireAuthorization(OpsPolicies.EditCredits);
        return endpoints;
    }
}
