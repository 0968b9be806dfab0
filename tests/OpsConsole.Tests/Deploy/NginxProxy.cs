using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using OpsConsole.Endpoints;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Deploy;

/// <summary>
/// Debian's nginx running deploy/nginx.conf as it is, but for the addresses a test needs: its own prefix folder, a
/// free port for HTTPS (a self-signed certificate for localhost), the consoles' ports in the upstream, workers as the
/// current user, and an access log that names the console each request went to.
/// </summary>
public sealed partial class NginxProxy(string folder, Process process, StringBuilder output, int port) : IAsyncDisposable
{
    public const string NginxPath = "/usr/sbin/nginx";

    private readonly string _folder = folder;
    private readonly Process _process = process;
    private readonly StringBuilder _output = output;

    public int Port { get; } = port;

    public string BaseUrl => $"https://localhost:{Port}";

    public static async Task<NginxProxy> StartAsync(IReadOnlyList<int> consolePorts)
    {
        if (!File.Exists(NginxPath))
        {
            throw new InvalidOperationException($"{NginxPath} is missing: install it with `apt-get install -y nginx` (test.sh does).");
        }

        var folder = Directory.CreateTempSubdirectory("opsconsole-nginx-").FullName;
        var port = PublishedConsole.FreePort();
        var (certificate, key) = WriteCertificate(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "opsconsole.conf"), Site(port, consolePorts, certificate, key));
        await File.WriteAllTextAsync(Path.Combine(folder, "nginx.conf"), $$"""
            daemon off;
            worker_processes 1;
            pid {{folder}}/nginx.pid;
            error_log {{folder}}/error.log info;
            {{(Environment.UserName == "root" ? "user root;" : "")}}
            events { worker_connections 256; }
            http {
                log_format upstreams '$request_method $uri $status $upstream_addr';
                access_log {{folder}}/access.log upstreams;
                client_body_temp_path {{folder}}/body;
                proxy_temp_path {{folder}}/proxy;
                fastcgi_temp_path {{folder}}/fastcgi;
                uwsgi_temp_path {{folder}}/uwsgi;
                scgi_temp_path {{folder}}/scgi;
                include {{folder}}/opsconsole.conf;
            }
            """);

        var output = new StringBuilder();
        var process = ChildProcess.Start(
            NginxPath, ["-p", folder, "-e", Path.Combine(folder, "error.log"), "-c", Path.Combine(folder, "nginx.conf")],
            new Dictionary<string, string>(), folder, output);
        var proxy = new NginxProxy(folder, process, output, port);
        try
        {
            await proxy.WaitUntilForwardingAsync();
        }
        catch
        {
            await proxy.DisposeAsync();
            throw;
        }

        return proxy;
    }

    /// <summary>The console (its port) that answered the latest request whose path starts with <paramref name="path"/>.</summary>
    public int? LastUpstreamPortOf(string path)
    {
        var log = Path.Combine(_folder, "access.log");
        if (!File.Exists(log))
        {
            return null;
        }

        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        int? port = null;
        while (reader.ReadLine() is { } line)
        {
            // "POST /_blazor/negotiate 200 127.0.0.1:5080"; after a fail-over "127.0.0.1:5080, 127.0.0.1:5081".
            var parts = line.Split(' ', 4);
            if (parts.Length == 4 && parts[1].StartsWith(path, StringComparison.Ordinal) && parts[2] == "200")
            {
                port = int.Parse(UpstreamPort().Matches(parts[3])[^1].Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return port;
    }

    public string Log => $"{Read("error.log")}\n{Read("access.log")}\n{_output}";

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(deadline.Token);
        _process.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>deploy/nginx.conf with the test's ports and certificate; every other line as shipped.</summary>
    private static string Site(int port, IReadOnlyList<int> consolePorts, string certificate, string key)
    {
        var site = File.ReadAllText(RepositoryFiles.PathOf("deploy/nginx.conf"));
        var servers = UpstreamServer().Matches(site);
        Assert.True(servers.Count == consolePorts.Count, $"deploy/nginx.conf has {servers.Count} upstream servers, the test runs {consolePorts.Count} consoles");
        var next = 0;
        site = UpstreamServer().Replace(site, _ => $"server 127.0.0.1:{consolePorts[next++]} ");

        return Replace(Replace(Replace(Replace(site,
            "listen 443 ssl;", $"listen 127.0.0.1:{port} ssl;"),
            "listen 80;", $"listen 127.0.0.1:{PublishedConsole.FreePort()};"),
            "/etc/ssl/certs/opsconsole.pem", certificate),
            "/etc/ssl/private/opsconsole.key", key);
    }

    private static string Replace(string text, string shipped, string replacement)
    {
        Assert.True(text.Contains(shipped, StringComparison.Ordinal), $"deploy/nginx.conf no longer has `{shipped}`");
        return text.Replace(shipped, replacement, StringComparison.Ordinal);
    }

    private static (string Certificate, string Key) WriteCertificate(string folder)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        var certificatePath = Path.Combine(folder, "opsconsole.pem");
        var keyPath = Path.Combine(folder, "opsconsole.key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, rsa.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }

    private async Task WaitUntilForwardingAsync()
    {
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        await ChildProcess.WaitUntilOkAsync(_process, client, $"{BaseUrl}{HealthEndpoints.Path}", TimeSpan.FromSeconds(30), "nginx", () => Log);
    }

    private string Read(string name)
    {
        var path = Path.Combine(_folder, name);
        if (!File.Exists(path))
        {
            return "";
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    [GeneratedRegex(@"server 127\.0\.0\.1:\d+ ")]
    private static partial Regex UpstreamServer();

    [GeneratedRegex(@":(\d+)")]
    private static partial Regex UpstreamPort();
}
