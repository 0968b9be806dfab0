using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using OpsConsole.Core.Accounts;

namespace OpsConsole.Auth;

public static class AuthenticationSetup
{
    public const string OidcScheme = OpenIdConnectDefaults.AuthenticationScheme;

    /// <summary>The sign-in cookie's sliding lifetime (Accounts:MaxSessionLifetime bounds it).</summary>
    public static readonly TimeSpan CookieLifetime = TimeSpan.FromHours(8);

    public static IServiceCollection AddOpsAuthentication(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        var oidc = configuration.GetSection(OpenIdConnectSettings.Section).Get<OpenIdConnectSettings>() ?? new();
        services.AddSingleton(oidc);
        var authentication = services
            .AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(options =>
            {
                options.LoginPath = "/login";
                options.LogoutPath = "/account/logout";
                options.AccessDeniedPath = "/access-denied";
                options.Cookie.Name = "OpsConsole.Auth";
                options.Cookie.HttpOnly = true;
                // Strict: no other site's page, link or form brings the cookie along. Lax only with single sign-on, whose
                // provider sends the user back with a cross-site redirect that a Strict cookie would not follow.
                options.Cookie.SameSite = oidc.IsConfigured ? SameSiteMode.Lax : SameSiteMode.Strict;
                options.Cookie.SecurePolicy = environment.IsDevelopment() ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always;
                options.ExpireTimeSpan = CookieLifetime;
                options.SlidingExpiration = true;
                options.Events.OnRedirectToLogin = context => RedirectOrStatus(context, StatusCodes.Status401Unauthorized);
                options.Events.OnRedirectToAccessDenied = context => RedirectOrStatus(context, StatusCodes.Status403Forbidden);
                options.Events.OnValidatePrincipal = AccountRevalidation.ValidateCookieAsync;
            });

        // The sign-in lives in ops.sessions; the cookie names it (PostgresTicketStore).
        services.AddSingleton<PostgresTicketStore>();
        services.AddOptions<CookieAuthenticationOptions>(CookieAuthenticationDefaults.AuthenticationScheme)
            .Configure<PostgresTicketStore>((options, store) => options.SessionStore = store);

        if (oidc.IsConfigured)
        {
            authentication.AddOpenIdConnect(OidcScheme, oidc.DisplayName, options =>
            {
                options.Authority = oidc.Authority;
                options.ClientId = oidc.ClientId;
                options.ClientSecret = oidc.ClientSecret;
                options.ResponseType = "code";
                options.UsePkce = true;
                options.SaveTokens = false;
                options.MapInboundClaims = false;
                options.SignInScheme = CookieAuthenticationDefaults.AuthenticationScheme;
                options.RequireHttpsMetadata = !environment.IsDevelopment();
                options.TokenValidationParameters.NameClaimType = oidc.NameClaim;
                options.TokenValidationParameters.RoleClaimType = ClaimTypes.Role;
                options.Events.OnTokenValidated = context =>
                {
                    AddConsoleRoles(context.Principal, oidc.RoleClaim);
                    if (context.Principal?.Identity is ClaimsIdentity identity)
                    {
                        identity.AddClaim(OpsClaims.SignedInAtClaim(context.HttpContext.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow()));
                    }

                    return Task.CompletedTask;
                };
            });
        }

        // The key ring protects the cookies and antiforgery tokens: in the database, so that they survive a restart and
        // every instance reads the others'. One application name, whatever folder an instance runs from.
        services.AddDataProtection().SetApplicationName("OpsConsole");
        services.AddOptions<KeyManagementOptions>()
            .Configure<PostgresXmlRepository>((options, repository) => options.XmlRepository = repository);

        services.AddAuthorization(options => options.AddOpsPolicies());
        services.AddCascadingAuthenticationState();
        services.AddSingleton<AccountRevalidation>();
        services.AddScoped<AuthenticationStateProvider, AccountRevalidatingAuthenticationStateProvider>();
        services.AddScoped<OpsActors>();
        return services;
    }

    /// <summary>Copies the values of the configured role claim that name a console role into role claims.</summary>
    internal static void AddConsoleRoles(ClaimsPrincipal? principal, string roleClaim)
    {
        if (principal?.Identity is not ClaimsIdentity identity)
        {
            return;
        }

        var roles = identity.FindAll(roleClaim)
            .Select(c => OpsRoles.Normalize(c.Value))
            .OfType<string>()
            .Distinct()
            .ToList();
        foreach (var role in roles.Where(r => !identity.HasClaim(ClaimTypes.Role, r)))
        {
            identity.AddClaim(new Claim(ClaimTypes.Role, role));
        }
    }

    /// <summary>The principal of a local sign-in: name, role, the account's security stamp and the sign-in time (now when not given).</summary>
    public static ClaimsPrincipal CreateLocalPrincipal(OpsAccount account, DateTimeOffset? signedInAt = null)
    {
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.Name, account.UserName),
                new Claim(ClaimTypes.Role, account.Role),
                new Claim(OpsClaims.Source, OpsClaims.LocalSource),
                new Claim(OpsClaims.AccountId, account.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), ClaimValueTypes.Integer64),
                new Claim(OpsClaims.SecurityStamp, account.SecurityStamp.ToString("N")),
                OpsClaims.SignedInAtClaim(signedInAt ?? DateTimeOffset.UtcNow),
            ],
            CookieAuthenticationDefaults.AuthenticationScheme,
            ClaimTypes.Name,
            ClaimTypes.Role);
        return new ClaimsPrincipal(identity);
    }

    // API callers get status codes; browsers get the sign-in or refusal page.
    private static Task RedirectOrStatus(Microsoft.AspNetCore.Authentication.RedirectContext<CookieAuthenticationOptions> context, int status)
    {
        if (context.Request.Path.StartsWithSegments("/api"))
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        }

        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }
}
