using System.Globalization;

namespace OpsConsole.Bench;

/// <summary>Command-line settings of a benchmark run.</summary>
internal sealed record BenchOptions(int Rounds, int Seconds, string? Only, string? Database = null, string? PageKind = null, string SynchronousCommit = "on")
{
    public static BenchOptions Parse(string[] args)
    {
        var rounds = 3;
        var seconds = 10;
        string? only = null;
        string? database = null;
        string? pageKind = null;
        var synchronousCommit = "on";
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rounds":
                    rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--seconds":
                    seconds = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--only":
                    only = args[++i];
                    break;
                case "--database":
                    // The metrics benchmark measures this (already seeded, rolled up) database instead of seeding its own.
                    database = args[++i];
                    break;
                case "--page-kind":
                    // The page-memory benchmark measures only this kind of page ("deployment run", "locks", ...).
                    pageKind = args[++i];
                    break;
                case "--synchronous-commit":
                    // The real-marketplace benchmark's databases commit without waiting for the WAL flush ("off").
                    synchronousCommit = args[++i] is "on" or "off" ? args[i] : throw new ArgumentException("--synchronous-commit takes on or off.");
                    break;
                default:
                    throw new ArgumentException($"Unknown argument {args[i]}. Use --rounds N, --seconds S, --database CONNECTION-STRING, --page-kind KIND, --synchronous-commit on|off, --only throughput|contention|scaling|metrics|live-updates|locks|stripe|page-memory|real-marketplace.");
            }
        }

        if (rounds < 1 || seconds < 1)
        {
            throw new ArgumentException("--rounds and --seconds must be at least 1.");
        }

        return new BenchOptions(rounds, seconds, only, database, pageKind, synchronousCommit);
    }

    public bool Runs(string name) => Only is null || string.Equals(Only, name, StringComparison.OrdinalIgnoreCase);
}
