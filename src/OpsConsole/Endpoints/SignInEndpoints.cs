using System.Threading.RateLimiting;
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
            // Per client address, on top of the per-account lockout: slows guessing across many names.
            options.AddPolicy(RateLimitPolicy, context => RateLimitPartition.GetFixedWindowLimiter(
                context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
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
                await httpContext.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, AuthenticationSetup.CreateLocalPrincipal(signedIn));
                logger.LogInformation("{UserName} signed in as {Role}", signedIn.UserName, signedIn.Role);
                return TypedResults.Redirect(SafeReturnUrl(returnUrl));
            case SignInOutcome.LockedOut:
                logger.LogWarning("Sign-in refused for {UserName}: locked after repeated failures", userName);
                return TypedResults.Redirect(LoginUrl(Errors.LockedOut, returnUrl));
            default:
                logger.LogInformation("Failed sign-in for {UserName}", userName);
                return TypedResults.Redirect(LoginUrl(Errors.Invalid, returnUrl));
        }
    }

    private static async Task<RedirectHttpResult> SignOutAsync(HttpContext httpContext)
    {
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
