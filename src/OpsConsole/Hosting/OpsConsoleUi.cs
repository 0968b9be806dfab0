using MudBlazor.Services;
using OpsConsole.Api;
using OpsConsole.Auth;
using OpsConsole.Components;
using OpsConsole.Database;
using OpsConsole.Endpoints;
using OpsConsole.Health;
using OpsConsole.Metrics;

namespace OpsConsole.Hosting;

/// <summary>The web app's registrations and request pipeline, so that Program.cs reads as a table of contents.</summary>
public static class OpsConsoleUi
{
    public static IServiceCollection AddOpsConsoleUi(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddMudServices();
        services.AddOpsAuthentication(configuration, environment);
        services.AddSignInRateLimiting(configuration);
        services.AddOpsHealthChecks();

        services.Configure<DatabaseProbeOptions>(configuration.GetSection(DatabaseProbeOptions.SectionName));
        services.AddSingleton<DatabaseStatus>();
        services.AddHostedService<DatabaseProbe>();

        services.AddHsts(options => options.MaxAge = TimeSpan.FromDays(365));
        return services;
    }

    public static WebApplication UseOpsConsoleUi(this WebApplication app)
    {
        if (!app.Environment.IsDevelopment())
        {
            app.UseExceptionHandler("/Error", createScopeForErrors: true);
            app.UseHsts();
            app.UseHttpsRedirection();
        }

        app.UseSecurityHeaders();
        app.UseFrontEndAssets();
        // API callers get bare status codes; people get the not-found page.
        app.UseWhen(
            context => !context.Request.Path.StartsWithSegments("/api"),
            branch => branch.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true));
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseAntiforgery();

        app.MapStaticAssets().AllowAnonymous();
        app.MapOpsHealth();
        app.MapPrometheusMetrics();
        app.MapSignInEndpoints();
        app.MapCreditEndpoints();
        app.MapStripeEndpoints();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}
