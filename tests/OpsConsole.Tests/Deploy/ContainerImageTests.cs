using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using OpsConsole.Endpoints;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Deploy;

/// <summary>
/// Builds the image with deploy/container/build-image.sh (the SDK's PublishContainer into a tarball, on the base
/// image made from Debian packages) once for the class, and reads its config and files back from the tarball.
/// </summary>
public sealed class ContainerImageTests(ContainerImageTests.BuiltImage image) : IClassFixture<ContainerImageTests.BuiltImage>
{
    [Fact]
    public void Image_runs_the_self_contained_app_as_the_unprivileged_app_user()
    {
        var config = image.Config["config"]!;
        Assert.Equal("1654", (string?)config["User"]);
        Assert.Equal(["/app/OpsConsole"], config["Entrypoint"]!.AsArray().Select(part => (string?)part));
        Assert.True(image.Files.ContainsKey("app/OpsConsole"), "the entrypoint is in the image");
        Assert.Contains("app:x:1654:1654:app:/home/app:/usr/sbin/nologin", image.Text("etc/passwd").Split('\n'));
    }

    [Fact]
    public void Image_listens_on_port_8080_and_takes_its_settings_from_the_environment()
    {
        var config = image.Config["config"]!;
        Assert.Equal(["8080/tcp"], config["ExposedPorts"]!.AsObject().Select(port => port.Key));
        var environment = config["Env"]!.AsArray().Select(variable => (string)variable!).ToList();
        Assert.Contains("ASPNETCORE_HTTP_PORTS=8080", environment);
        // No database, OIDC or Stripe setting is baked in: each comes from the container's environment.
        Assert.DoesNotContain(environment, variable => variable.StartsWith("ConnectionStrings", StringComparison.OrdinalIgnoreCase));
        var settings = JsonNode.Parse(image.Text("app/appsettings.json"))!.AsObject();
        Assert.DoesNotContain(settings, setting => setting.Key is "ConnectionStrings" or "Stripe" or "Authentication");
    }

    [Fact]
    public void Image_carries_the_probe_the_documented_health_check_runs()
    {
        Assert.True(image.Files.ContainsKey("bin/busybox"), "busybox (its wget is the probe) is in the image");
        var documented = File.ReadAllText(RepositoryFiles.PathOf("docs/production.md"));
        Assert.Contains($"/bin/busybox wget -q -O /dev/null http://127.0.0.1:8080{HealthEndpoints.Path}", documented);
    }

    public sealed class BuiltImage : IAsyncLifetime
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("opsconsole-image-").FullName;

        public JsonNode Config { get; private set; } = null!;

        /// <summary>Every regular file of every layer, by path without the leading "./", the upper layer's winning.</summary>
        public Dictionary<string, byte[]> Files { get; } = [];

        public string Text(string path) => System.Text.Encoding.UTF8.GetString(Files[path]);

        public async Task InitializeAsync()
        {
            var tarball = Path.Combine(_directory, "opsconsole.tar.gz");
            // One `dotnet publish` of the run at a time: the published-console tests publish the same projects.
            await PublishedBuild.Gate.WaitAsync();
            try
            {
                await BuildAsync(tarball);
            }
            finally
            {
                PublishedBuild.Gate.Release();
            }

            var blobs = ReadTar(File.OpenRead(tarball), keepEntry: _ => true);
            var index = JsonNode.Parse(blobs["index.json"])!;
            var manifest = JsonNode.Parse(Blob(blobs, (string)index["manifests"]![0]!["digest"]!))!;
            Config = JsonNode.Parse(Blob(blobs, (string)manifest["config"]!["digest"]!))!;
            foreach (var layer in manifest["layers"]!.AsArray())
            {
                foreach (var (path, content) in ReadTar(new MemoryStream(Blob(blobs, (string)layer!["digest"]!)), path => path is "app/OpsConsole" or "app/appsettings.json" or "bin/busybox" or "etc/passwd"))
                {
                    Files[path] = content;
                }
            }
        }

        public Task DisposeAsync()
        {
            Directory.Delete(_directory, recursive: true);
            return Task.CompletedTask;
        }

        private static byte[] Blob(Dictionary<string, byte[]> entries, string digest) => entries["blobs/sha256/" + digest["sha256:".Length..]];

        private async Task BuildAsync(string tarball)
        {
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(RepositoryFiles.PathOf("deploy/container/build-image.sh"));
            start.ArgumentList.Add(tarball);
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            // A first build on a fresh machine installs two packages and publishes the app self-contained.
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(12));
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("build-image.sh did not finish in 12 minutes:\n" + await output + await errors);
            }

            Assert.True(process.ExitCode == 0, $"build-image.sh failed ({process.ExitCode}):\n{await output}{await errors}");
        }

        private static Dictionary<string, byte[]> ReadTar(Stream stream, Func<string, bool> keepEntry)
        {
            using var source = stream;
            var buffered = new BufferedStream(source);
            var magic = new byte[2];
            buffered.ReadExactly(magic);
            buffered.Position = 0;
            using Stream tar = magic is [0x1f, 0x8b] ? new GZipStream(buffered, CompressionMode.Decompress) : buffered;
            using var reader = new TarReader(tar);
            var entries = new Dictionary<string, byte[]>();
            while (reader.GetNextEntry() is { } entry)
            {
                var path = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name.TrimStart('/');
                if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is { } data && keepEntry(path))
                {
                    using var copy = new MemoryStream();
                    data.CopyTo(copy);
                    entries[path] = copy.ToArray();
                }
            }

            return entries;
        }
    }
}
