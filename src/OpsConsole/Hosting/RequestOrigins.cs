using Microsoft.Extensions.Options;

namespace OpsConsole.Hosting;

/// <summary>What a request's <c>Origin</c> header says about who sent it.</summary>
public enum OriginVerdict
{
    /// <summary>No Origin header: a same-origin GET of a browser, or a client that is not a browser.</summary>
    Absent,

    /// <summary>The console's own origin.</summary>
    Own,

    /// <summary>Any other origin, "null", or a malformed or repeated header.</summary>
    Foreign,
}

/// <summary>
/// The console's own origins: the one the request names (its scheme and Host header, after the forwarded headers of
/// a known proxy) and those of <see cref="HostingOptions.AllowedOrigins"/>. A page of another port on the same host
/// or of a sibling subdomain is same-site, so cookies do not tell it apart; its Origin does.
/// </summary>
public sealed class RequestOrigins(IOptions<HostingOptions> options)
{
    public const string BlazorHubPath = "/_blazor";

    private readonly HashSet<string> _allowed = options.Value.AllowedOrigins
        .Select(Normalize).OfType<string>().ToHashSet(StringComparer.Ordinal);

    public OriginVerdict Check(HttpRequest request)
    {
        if (!request.Headers.TryGetValue("Origin", out var values))
        {
            return OriginVerdict.Absent;
        }

        if (values.Count != 1 || Normalize(values[0]) is not { } origin)
        {
            return OriginVerdict.Foreign;
        }

        return origin == Normalize($"{request.Scheme}://{request.Host.Value}") || _allowed.Contains(origin)
            ? OriginVerdict.Own
            : OriginVerdict.Foreign;
    }

    /// <summary><c>scheme://host[:port]</c> in canonical form (lower-case host, no default port), or null for anything else.</summary>
    public static string? Normalize(string? origin) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
        && uri.UserInfo.Length == 0 && uri.AbsolutePath == "/" && uri.Query.Length == 0 && uri.Fragment.Length == 0
            ? uri.GetLeftPart(UriPartial.Authority)
            : null;

    /// <summary>
    /// The Blazor connection (<c>/_blazor</c>: negotiate, WebSocket, server-sent events, long polling) only from the
    /// console's own pages. With an Origin, it must be the console's. Without one, only a plain GET that is not a
    /// WebSocket upgrade and that the browser does not mark as cross-origin (<c>Sec-Fetch-Site</c>) passes: a browser
    /// sends Origin with every WebSocket handshake and every POST, and omits it only on same-origin GETs (the polls of
    /// server-sent events and long polling, which need the id of a connection negotiated with an Origin). A client
    /// that is not a browser cannot open a circuit without sending the console's Origin.
    /// </summary>
    public bool AllowsBlazorConnection(HttpRequest request) => Check(request) switch
    {
        OriginVerdict.Own => true,
        OriginVerdict.Absent => (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
            && !request.Headers.ContainsKey("Upgrade")
            && request.Headers["Sec-Fetch-Site"].ToString() is "" or "same-origin",
        _ => false,
    };
}

public static class RequestOriginsSetup
{
    /// <summary>Refuses (403) a request for the Blazor connection that does not come from the console's own pages.</summary>
    public static WebApplication UseBlazorOriginCheck(this WebApplication app)
    {
        var origins = app.Services.GetRequiredService<RequestOrigins>();
        app.UseWhen(
            context => context.Request.Path.StartsWithSegments(RequestOrigins.BlazorHubPath),
            branch => branch.Use(async (context, next) =>
            {
                if (origins.AllowsBlazorConnection(context.Request))
                {
                    await next(context);
                    return;
                }

                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync(
                    "Refused: the console's live connection opens only from the console's own pages (Origin).\n", context.RequestAborted);
            }));
        return app;
    }
}
