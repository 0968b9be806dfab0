namespace OpsConsole.Hosting;

/// <summary>
/// Where the console finds its <c>wwwroot</c> and <c>appsettings.json</c>. A published console uses its own folder
/// whatever the working directory (a service manager, a container or a shell elsewhere would otherwise leave it
/// serving empty assets from a folder without them). <c>dotnet run</c> and a build keep the default, the working
/// directory: their static assets are listed in the build's runtime manifest, which points into the project.
/// </summary>
public static class ContentRoot
{
    /// <summary>The runtime manifest a build (not a publish) writes beside the app.</summary>
    private const string BuildManifest = "OpsConsole.staticwebassets.runtime.json";

    public static WebApplicationOptions WebOptions(string[] args) =>
        new() { Args = args, ContentRootPath = PublishedFolder(args, AppContext.BaseDirectory) };

    public static HostApplicationBuilderSettings HostSettings(string[] args) =>
        new() { Args = args, ContentRootPath = PublishedFolder(args, AppContext.BaseDirectory) };

    /// <summary>
    /// A build (not a publish) started outside Development, as <c>ASPNETCORE_ENVIRONMENT=Production dotnet run</c> does:
    /// its assets are where the build's manifest says (the project, MudBlazor's package), which only Development reads
    /// by default; without this every asset answers empty or 500.
    /// </summary>
    public static WebApplicationBuilder UseBuildStaticAssets(this WebApplicationBuilder builder)
    {
        if (!builder.Environment.IsDevelopment() && File.Exists(Path.Combine(AppContext.BaseDirectory, BuildManifest)))
        {
            builder.WebHost.UseStaticWebAssets();
        }

        return builder;
    }

    /// <summary>
    /// The app's folder when it is a publish output and no content root was chosen (<c>--contentRoot</c>,
    /// <c>ASPNETCORE_CONTENTROOT</c>, <c>DOTNET_CONTENTROOT</c>); otherwise null, the host's default.
    /// </summary>
    internal static string? PublishedFolder(string[] args, string baseDirectory)
    {
        var chosen = new ConfigurationBuilder()
            .AddEnvironmentVariables("DOTNET_")
            .AddEnvironmentVariables("ASPNETCORE_")
            .AddCommandLine(args)
            .Build()[HostDefaults.ContentRootKey];
        if (!string.IsNullOrEmpty(chosen))
        {
            return null;
        }

        var published = Directory.Exists(Path.Combine(baseDirectory, "wwwroot"))
            && !File.Exists(Path.Combine(baseDirectory, BuildManifest));
        return published ? baseDirectory : null;
    }
}
