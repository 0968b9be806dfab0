using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OpsConsole.Endpoints;
using OpsConsole.Testing;

namespace OpsConsole.Tests.Deploy;

/// <summary>
/// <c>dotnet publish -c Release</c> of src/OpsConsole into a temporary folder, once per test run however many tests
/// run the published console (it costs a minute on two cores), removed when the test process ends.
/// </summary>
public static class PublishedBuild
{
    private static readonly Lazy<Task<string>> Published = new(PublishAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Held by every <c>dotnet publish</c> of the test run (this one and the container image's): two at once restore
    /// the same projects and write the same <c>obj/project.assets.json</c>.
    /// </summary>
    public static SemaphoreSlim Gate { get; } = new(1, 1);

    /// <summary>The folder holding the published console (its <c>OpsConsole</c> executable, <c>wwwroot</c>, settings).</summary>
    public static Task<string> FolderAsync() => Published.Value;

    /// <summary>The published executable.</summary>
    public static async Task<string> ExecutableAsync() => Path.Combine(await FolderAsync(), "OpsConsole");

    private static async Task<string> PublishAsync()
    {
        var folder = Directory.CreateTempSubdirectory("opsconsole-publish-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // A console still shutting down holds a file; the temporary folder goes with the machine's tmp sweep.
            }
        };

        await Gate.WaitAsync();
        try
        {
            var project = RepositoryFiles.PathOf("src/OpsConsole/OpsConsole.csproj");
            var (exitCode, output) = await ChildProcess.RunAsync(
                "dotnet", ["publish", project, "-c", "Release", "-o", folder, "--nologo"], TimeSpan.FromMinutes(8));
            Assert.True(exitCode == 0, $"dotnet publish failed ({exitCode}):\n{output}");
        }
        finally
        {
            Gate.Release();
        }

        return folder;
    }
}

/// <summary>
/// The published console as a child process, the way a service manager runs it: Production, settings from the
/// environment only (nothing inherited that names an ASP.NET Core or console setting), a working directory that is
/// not its folder, a free loopback port. Started when <c>/api/health</c> answers 200.
/// </summary>
public sealed class PublishedConsole(Process process, StringBuilder output, string workingDirectory, int port) : IAsyncDisposable
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromMinutes(2);

    private readonly Process _process = process;
    private readonly StringBuilder _output = output;
    private readonly string _workingDirectory = workingDirectory;

    public int Port { get; } = port;

    /// <summary>Where a browser reaches it: localhost, which Chromium treats as secure, so Production's Secure cookies hold.</summary>
    public string BaseUrl => $"http://localhost:{Port}";

    public bool HasExited => _process.HasExited;

    /// <summary>What the console wrote so far (standard output and error), for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<PublishedConsole> StartAsync(string connectionString, IReadOnlyDictionary<string, string>? settings = null)
    {
        var executable = await PublishedBuild.ExecutableAsync();
        var port = FreePort();
        var workingDirectory = Directory.CreateTempSubdirectory("opsconsole-cwd-").FullName;
        var environment = new Dictionary<string, string>(settings ?? new Dictionary<string, string>())
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["ConnectionStrings__Marketplace"] = connectionString,
        };
        var output = new StringBuilder();
        var process = ChildProcess.Start(executable, [], environment, workingDirectory, output);
        var console = new PublishedConsole(process, output, workingDirectory, port);
        // A test run that ends without disposing (a crash, a cancelled run) takes its consoles along.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => console.KillQuietly();
        try
        {
            await console.WaitUntilHealthyAsync();
        }
        catch
        {
            await console.DisposeAsync();
            throw;
        }

        return console;
    }

    /// <summary>Ends the process at once, as a crash or a pulled plug would, and waits until it is gone.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(deadline.Token);
    }

    private void KillQuietly()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone (or disposed).
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
        Directory.Delete(_workingDirectory, recursive: true);
    }

    private async Task WaitUntilHealthyAsync()
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await ChildProcess.WaitUntilOkAsync(_process, client, $"http://127.0.0.1:{Port}{HealthEndpoints.Path}", StartDeadline, "The published console", () => Output);
    }

    /// <summary>A loopback port nothing listens on now.</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>Child processes with an environment of the test's choosing and their output captured.</summary>
public static class ChildProcess
{
    /// <summary>Inherited variables that would configure the child behind the test's back.</summary>
    private static readonly string[] ScrubbedPrefixes = ["ASPNETCORE_", "DOTNET_ENVIRONMENT", "ConnectionStrings", "Hosting__", "Demo__", "Database__"];

    public static Process Start(
        string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string workingDirectory, StringBuilder output,
        bool redirectInput = false)
    {
        var start = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in start.Environment.Keys.Where(n => ScrubbedPrefixes.Any(p => n.StartsWith(p, StringComparison.OrdinalIgnoreCase))).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Runs a command to its end (killed at <paramref name="deadline"/>) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string fileName, IEnumerable<string> arguments, TimeSpan deadline, IReadOnlyDictionary<string, string>? environment = null, string? input = null,
        string? workingDirectory = null)
    {
        var output = new StringBuilder();
        using var process = Start(
            fileName, arguments, environment ?? new Dictionary<string, string>(), workingDirectory ?? Path.GetTempPath(), output, redirectInput: input is not null);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }

        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish in {deadline}:\n{Text(output)}");
        }

        // The asynchronous readers may still hold the last lines: WaitForExit() without a timeout drains them.
        process.WaitForExit();
        return (process.ExitCode, Text(output));
    }

    /// <summary>Until <paramref name="url"/> answers 200; fails at once when <paramref name="process"/> (what serves it) exits.</summary>
    public static async Task WaitUntilOkAsync(Process process, HttpClient client, string url, TimeSpan deadline, string what, Func<string> log)
    {
        var elapsed = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{what} exited ({process.ExitCode}) before {url} answered:\n{log()}");
            }

            try
            {
                using var response = await client.GetAsync(url);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            if (elapsed.Elapsed > deadline)
            {
                throw new TimeoutException($"{what} did not answer {url} with 200 within {deadline}:\n{log()}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }
}
