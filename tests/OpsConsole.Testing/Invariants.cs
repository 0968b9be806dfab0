using System.Globalization;
using System.Text;
using Npgsql;
using OpsConsole.Core.Purchases;
using Xunit;

namespace OpsConsole.Testing;

/// <summary>
/// The five invariants of the marketplace contract as one assertion, for any test to make after whatever it
/// ran (single calls here, concurrent interleavings and killed calls elsewhere). The queries are Core's
/// <see cref="MarketplaceInvariants"/>, the same the console shows as live checks, so a test and the console
/// never disagree about what "broken" means. Invariant 4 compares sums over the whole database, so it
/// assumes credits were used and earned only through the functions (true of every fixture database).
/// </summary>
public static class Invariants
{
    /// <summary>Fails, listing every offending row, when any invariant of the contract is broken.</summary>
    public static async Task AssertAllInvariantsAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AssertAllInvariantsAsync(connection, cancellationToken);
    }

    /// <summary>Fails, listing every offending row, when any invariant of the contract is broken.</summary>
    public static async Task AssertAllInvariantsAsync(NpgsqlConnection conn, CancellationToken cancellationToken = default)
    {
        var violations = await MarketplaceInvariants.FindViolationsAsync(conn, cancellationToken);
        if (violations.Count == 0)
        {
            return;
        }

        var report = new StringBuilder();
        foreach (var group in violations.GroupBy(v => v.Invariant))
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"Invariant {group.Key} ({MarketplaceInvariants.Names[group.Key]}) is broken by:");
            foreach (var violation in group)
            {
                report.AppendLine(CultureInfo.InvariantCulture, $"  {violation.Subject}: {violation.Detail}");
            }
        }

        Assert.Fail(report.ToString());
    }
}
