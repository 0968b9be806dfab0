using MudBlazor.Services;
using OpsConsole.Auth;
using OpsConsole.Components;
using OpsConsole.Database;
using OpsConsole.Endpoints;

namespace OpsConsole.Hosting;

/// <summary>The web app's registrations and request pipeline, so that Program.cs reads as a table of contents.</summary>
public static class OpsConsoleUi
{
    public static IServiceCollection AddOpsConsoleUi(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddMudServices();
        services.AddSingleton<Core.Demo.IConsoleAddresses, ServerAddresses>();
        services.AddOpsForwardedHeaders(configuration);
        services.AddSingleton<RequestOrigins>();
        services.AddOpsAuthentication(configuration, environment);
        services.AddSignInRateLimiting();
        services.AddStripeWebhookLimiter();
        services.AddOpsHealthChecks();

        services.AddOptions<DatabaseProbeOptions>().Bind(configuration.GetSection(DatabaseProbeOptions.Section))
            .Validate(o => o.Interval > TimeSpan.Zero && o.Timeout > TimeSpan.Zero, "Database:Probe:Interval and Timeout must be positive.")
            .ValidateOnStart();
        services.AddSingleton<DatabaseStatus>();
        services.AddHostedService<DatabaseProbe>();

        services.AddHsts(options => options.MaxAge = TimeSpan.FromDays(365));
        return services;
    }

    public static WebApplication UseOpsConsoleUi(this WebApplication app)
    {
        app.UseOpsForwardedHeaders();
        if (!app.Environment.IsDevelopment())
        {
            app.UseExceptionHandler("/Error", createScopeForErrors: true);
            app.UseHsts();
            app.UseHttpsRedirection();
        }

        app.UseSecurityHeaders();
        app.UseFrontEndAssets();
        app.UseBlazorOriginCheck();
        // API callers get bare status codes; people get the not-found page.
        app.UseWhen(
            context => !context.Request.Path.StartsWithSegments("/api"),
            branch => branch.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true));
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseAntiforgery();

        app.MapStaticAssets().AllowAnonymous();
        app.MapHealthEndpoints();
        app.MapMetricsEndpoints();
        app.MapSignInEndpoints();
        app.MapCreditEndpoints();
        app.MapStripeEndpoints();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}
