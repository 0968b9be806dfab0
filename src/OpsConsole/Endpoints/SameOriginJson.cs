using Microsoft.AspNetCore.Antiforgery;
using OpsConsole.Hosting;

namespace OpsConsole.Endpoints;

/// <summary>
/// The guard of every state-changing API endpoint that a signed-in browser could be made to call from another page:
/// the request comes from the console (its <c>Origin</c> is the console's own, or, without an Origin, it carries the
/// antiforgery token in the <c>RequestVerificationToken</c> header), else 403; and its body is JSON, else 415. A
/// cross-site form or <c>fetch</c> can send neither the console's Origin nor its token, and <c>application/json</c>
/// is not a type another page can post without the browser asking the console first (CORS, which it does not allow).
/// The checks run before the handler, so a refused request changes nothing.
/// </summary>
public static class SameOriginJson
{
    public const string AntiforgeryHeader = "RequestVerificationToken";

    /// <summary>Guards the endpoint or group.</summary>
    public static TBuilder RequireSameOriginJson<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.AddEndpointFilter(FilterAsync);
        builder.WithMetadata(new SameOriginJsonMetadata());
        return builder;
    }

    private static async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        switch (http.RequestServices.GetRequiredService<RequestOrigins>().Check(http.Request))
        {
            case OriginVerdict.Foreign:
                return Refused(
                    StatusCodes.Status403Forbidden,
                    $"Refused: this request comes from another site (Origin {http.Request.Headers.Origin}); the console accepts changes from its own pages only.");
            case OriginVerdict.Absent when !await http.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(http):
                return Refused(
                    StatusCodes.Status403Forbidden,
                    $"Refused: send the console's address as the Origin header, or the antiforgery token of a console page in the {AntiforgeryHeader} header.");
        }

        if (!http.Request.HasJsonContentType())
        {
            return Refused(StatusCodes.Status415UnsupportedMediaType, "Refused: send the body as application/json.");
        }

        return await next(context);
    }

    private static IResult Refused(int status, string detail) =>
        TypedResults.Problem(title: status == StatusCodes.Status415UnsupportedMediaType ? "Unsupported media type" : "Not from the console", detail: detail, statusCode: status);
}

/// <summary>Marks an endpoint guarded by <see cref="SameOriginJson"/>.</summary>
public sealed class SameOriginJsonMetadata;
