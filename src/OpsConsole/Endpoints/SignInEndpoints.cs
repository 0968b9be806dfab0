using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using OpsConsole.Auth;
using OpsConsole.Core.Database;
using OpsConsole.Core.Accounts;

namespace OpsConsole.Endpoints;

/// <summary>
/// Cookie sign-in and sign-out. The sign-in page is a static form that posts here (a Blazor circuit
/// cannot set cookies); the endpoint answers with a redirect either way, so a refresh never re-posts.
/// </summary>
public static class SignInEndpoints
{
    public const string RateLimitPolicy = "sign-in";

    /// <summary>Why the sign-in page is shown again; the page turns these into messages.</summary>
    public static class Errors
    {
        public const string Invalid = "invalid";
        public const string LockedOut = "locked";
        public const string Throttled = "throttled";
        public const string Unavailable = "unavailable";
    }

    /// <summary>Limits sign-in posts per client address to <see cref="AccountOptions.SignInAttemptsPerMinute"/>.</summary>
    public static IServiceCollection AddSignInRateLimiting(this IServiceCollection services)
    {
        return services.AddRateLimiter(options =>
        {
            // Per client address, on top of the per-account lockout: slows guessing across many names. The address is
            // the proxy's X-Forwarded-For only from a configured proxy (ForwardedHeadersSetup).
            options.AddPolicy(RateLimitPolicy, context => RateLimitPartition.GetFixedWindowLimiter(
                ClientPartition(context.Connection.RemoteIpAddress),
                _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = context.RequestServices.GetRequiredService<IOptions<AccountOptions>>().Value.SignInAttemptsPerMinute,
                    Window = TimeSpan.FromMinutes(1),
                    QueueLimit = 0,
                }));
            options.OnRejected = async (context, cancellationToken) =>
            {
                var request = context.HttpContext.Request;
                var returnUrl = request.HasFormContentType ? (await request.ReadFormAsync(cancellationToken))["returnUrl"].ToString() : null;
                context.HttpContext.Response.Redirect(LoginUrl(Errors.Throttled, returnUrl));
            };
        });
    }

    /// <summary>
    /// The rate limiter's key for a client address: an IPv4 address itself; an IPv6 address by its /64, the block
    /// one subscriber usually gets, so that walking through its addresses does not buy more attempts.
    /// </summary>
    internal static string ClientPartition(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return $"{new IPAddress(bytes)}/64";
    }

    public static IEndpointRouteBuilder MapSignInEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var account = endpoints.MapGroup("/account");
        account.MapPost("/login", (Delegate)SignInAsync).AllowAnonymous().RequireRateLimiting(RateLimitPolicy);
        account.MapPost("/logout", (Delegate)SignOutAsync);
        account.MapGet("/login/oidc", ChallengeOidc).AllowAnonymous();
        return endpoints;
    }

    private static async Task<RedirectHttpResult> SignInAsync(
        [FromForm] string? userName,
        [FromForm] string? password,
        [FromForm] string? returnUrl,
        HttpContext httpContext,
        AccountService accounts,
        TimeProvider time,
        ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        var logger = loggerFactory.CreateLogger(typeof(SignInEndpoints));
        Core.Accounts.SignInResult result;
        try
        {
            result = await accounts.SignInAsync(userName ?? "", password ?? "", cancellationToken);
        }
        catch (Exception ex) when (DatabasePing.IsDatabaseFailure(ex))
        {
            logger.LogWarning(ex, "Sign-in impossible: the database is unreachable");
            return TypedResults.Redirect(LoginUrl(Errors.Unavailable, returnUrl));
        }

        switch (result.Outcome)
        {
            case SignInOutcome.Succeeded when result.Account is { } signedIn:
                await httpContext.SignInAsync(
                    CookieAuthenticationDefaults.AuthenticationScheme, AuthenticationSetup.CreateLocalPrincipal(signedIn, time.GetUtcNow()));
                logger.LogInformation("{UserName} signed in as {Role}", signedIn.UserName, signedIn.Role);
                return TypedResults.Redirect(SafeReturnUrl(returnUrl));
            // AccountService logged the failure, naming an account by its stored name and anything else by a keyed
            // hash: what was typed as the name (a password, now and then) is not logged.
            case SignInOutcome.LockedOut:
                return TypedResults.Redirect(LoginUrl(Errors.LockedOut, returnUrl));
            default:
                return TypedResults.Redirect(LoginUrl(Errors.Invalid, returnUrl));
        }
    }

    // The form carries no field the endpoint binds, so the antiforgery check is not automatic: another site could
    // otherwise sign a user out with a bare POST.
    private static async Task<Results<RedirectHttpResult, ContentHttpResult>> SignOutAsync(HttpContext httpContext, IAntiforgery antiforgery)
    {
        if (!await antiforgery.IsRequestValidAsync(httpContext))
        {
            return TypedResults.Text(
                "Sign-out refused: the form's antiforgery token is missing or stale. Reload the page and sign out again.",
                statusCode: StatusCodes.Status400BadRequest);
        }

        await httpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.Redirect("/login");
    }

    private static IResult ChallengeOidc(string? returnUrl, OpenIdConnectSettings oidc) =>
        oidc.IsConfigured
            ? TypedResults.Challenge(new AuthenticationProperties { RedirectUri = SafeReturnUrl(returnUrl) }, [AuthenticationSetup.OidcScheme])
            : TypedResults.NotFound();

    internal static string SafeReturnUrl(string? returnUrl) =>
        !string.IsNullOrEmpty(returnUrl) && RedirectHttpResult.IsLocalUrl(returnUrl) && !returnUrl.StartsWith("/account/", StringComparison.OrdinalIgnoreCase)
            ? returnUrl
            : "/";

    private static string LoginUrl(string error, string? returnUrl)
    {
        var url = $"/login?error={error}";
        var safe = SafeReturnUrl(returnUrl);
        return safe == "/" ? url : $"{url}&ReturnUrl={Uri.EscapeDataString(safe)}";
    }
}
