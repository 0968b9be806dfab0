namespace OpsConsole.Bench;

/// <summary>
/// CPU time the cluster's processes have used, from /proc (Linux): the postmaster, its live children, and the
/// children it has reaped (backends that ended). CPU time, unlike a rate, hardly depends on how many other
/// processes share the cores, so it is the figure that compares across runs on a busy machine.
/// </summary>
internal static class ServerCpu
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public static async Task<double> SecondsAsync(BenchServer server)
    {
        await Task.Delay(300); // let backends of a finished run exit and be reaped
        var postmaster = int.Parse(File.ReadLines(Path.Combine(server.Cluster.DataDirectory, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
        var own = Fields(postmaster)!;
        var ticks = own[11] + own[12] + own[13] + own[14]; // utime, stime, cutime, cstime
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(folder), out var pid) && Fields(pid) is { } child && child[1] == postmaster)
            {
                ticks += child[11] + child[12];
            }
        }

        return ticks / TicksPerSecond;
    }

    // Fields 3 onwards of /proc/PID/stat (after the command name, which may hold spaces): [1] is ppid, [11] utime,
    // [12] stime, [13] cutime, [14] cstime. Null when the process is gone.
    private static long[]? Fields(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            return text[(text.LastIndexOf(')') + 2)..].Split(' ').Take(15)
                .Select(f => long.TryParse(f, out var n) ? n : 0).ToArray();
        }
        catch (IOException)
        {
            return null;
        }
    }
}
