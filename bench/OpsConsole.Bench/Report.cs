using System.Globalization;
using System.Text;

namespace OpsConsole.Bench;

/// <summary>The table a benchmark run prints, one row a figure, with its goal where the issue sets one.</summary>
internal sealed class Report(string environment)
{
    private readonly List<(string Benchmark, string Figure, string Value, string Goal, bool? Met)> _rows = [];

    public bool AllGoalsMet => _rows.All(r => r.Met != false);

    public void Add(string benchmark, string figure, string value, string goal = "", bool? met = null)
    {
        _rows.Add((benchmark, figure, value, goal, met));
        Console.WriteLine($"  {benchmark} | {figure}: {value}{(goal.Length > 0 ? $" (goal {goal}: {(met == true ? "met" : "MISSED")})" : "")}");
    }

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Environment: {environment}, {DateTime.UtcNow:yyyy-MM-dd}");
        text.AppendLine();
        text.AppendLine("| benchmark | figure | value | goal | met |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var row in _rows)
        {
            var met = row.Met switch { true => "yes", false => "**no**", null => "" };
            text.AppendLine(CultureInfo.InvariantCulture, $"| {row.Benchmark} | {row.Figure} | {row.Value} | {row.Goal} | {met} |");
        }

        return text.ToString();
    }
}

internal static class Stats
{
    public static double Median(IEnumerable<double> values) => Percentile(values, 0.5);

    /// <summary>Nearest-rank percentile.</summary>
    public static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    public static string Ms(double value) => value.ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    public static string F(double value, string format = "0.00") => value.ToString(format, CultureInfo.InvariantCulture);
}
