using Microsoft.Extensions.FileProviders;

namespace OpsConsole.Hosting;

/// <summary>
/// Serves <c>wwwroot-assets/</c> (third-party front-end files kept with their licence and origin) under <c>/assets/</c>.
/// The build copies the folder beside the app, so <c>dotnet run</c>, the tests and a published app all find it
/// in the same place.
/// </summary>
public static class FrontEndAssets
{
    /// <summary>The URL prefix the assets are served under.</summary>
    public const string RequestPath = "/assets";

    /// <summary>
    /// Adds the middleware. Place it before authentication: the files are public (the sign-in page may use them),
    /// and the authorization fallback policy applies to every request that reaches it.
    /// </summary>
    public static IApplicationBuilder UseFrontEndAssets(this IApplicationBuilder app)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "wwwroot-assets");
        if (!Directory.Exists(folder))
        {
            throw new InvalidOperationException($"{folder} is missing: the build copies wwwroot-assets/ there (see OpsConsole.csproj).");
        }

        return app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new PhysicalFileProvider(folder),
            RequestPath = RequestPath,
            // LICENSE files have no extension; nothing else without a known type is kept there.
            ServeUnknownFileTypes = true,
            DefaultContentType = "text/plain; charset=utf-8",
        });
    }
}
