using OpsConsole.Hosting;

namespace OpsConsole.Tests.Hosting;

/// <summary>Which folder the console takes as content root (PublishedConsoleTests runs a real publish).</summary>
public sealed class ContentRootTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("opsconsole-contentroot-").FullName;

    [Fact]
    public void A_publish_output_is_its_own_content_root()
    {
        Directory.CreateDirectory(Path.Combine(_folder, "wwwroot"));

        Assert.Equal(_folder, ContentRoot.PublishedFolder([], _folder));
    }

    [Fact]
    public void A_build_output_keeps_the_default_its_manifest_points_into_the_project()
    {
        Directory.CreateDirectory(Path.Combine(_folder, "wwwroot"));
        File.WriteAllText(Path.Combine(_folder, "OpsConsole.staticwebassets.runtime.json"), "{}");

        Assert.Null(ContentRoot.PublishedFolder([], _folder));
        Assert.Null(ContentRoot.PublishedFolder([], Path.Combine(_folder, "elsewhere")));
    }

    [Fact]
    public void A_content_root_given_on_the_command_line_wins()
    {
        Directory.CreateDirectory(Path.Combine(_folder, "wwwroot"));

        Assert.Null(ContentRoot.PublishedFolder(["--contentRoot", "/srv/console"], _folder));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
