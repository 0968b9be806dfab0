using OpsConsole.Core.Exports;

namespace OpsConsole.Core.Tests.Exports;

public sealed class CsvExportTests
{
    private sealed record Row(string Text, decimal Amount, DateTimeOffset At);

    private static readonly IReadOnlyList<CsvColumn<Row>> Columns =
    [
        new("text", r => r.Text),
        new("amount", r => r.Amount),
        new("at", r => r.At),
    ];

    [Fact]
    public void Quotes_commas_quotes_and_newlines_and_writes_invariant_numbers_and_iso_dates()
    {
        var at = new DateTimeOffset(2026, 12, 2, 7, 0, 0, TimeSpan.Zero);

        var csv = CsvExport.Write([new Row("a, \"b\"\nc", 1234.5m, at)], Columns);

        Assert.Equal("text,amount,at\r\n\"a, \"\"b\"\"\nc\",1234.5,2026-12-02T07:00:00.0000000+00:00\r\n", csv);
    }

    [Theory]
    [InlineData("=HYPERLINK(\"http://evil\")")]
    [InlineData("+1+1")]
    [InlineData("-2+3")]
    [InlineData("@SUM(A1)")]
    [InlineData("-1+cmd|' /C calc'!A0")]
    [InlineData("\tcmd")]
    [InlineData("\r=1")]
    public void A_cell_that_a_spreadsheet_would_run_as_a_formula_is_escaped(string typed)
    {
        var csv = CsvExport.Write([new Row(typed, 0, DateTimeOffset.UnixEpoch)], Columns);

        var cell = csv.Split("\r\n")[1];
        Assert.DoesNotContain("," + typed, "," + cell.Split(',')[0]);
        Assert.Contains("'", cell);
    }

    [Theory]
    [InlineData(-18.25)]
    [InlineData(0)]
    [InlineData(600)]
    public void A_number_is_written_as_the_number_so_spreadsheet_sums_count_it(double amount)
    {
        var value = (decimal)amount;

        var csv = CsvExport.Write([new Row("x", value, DateTimeOffset.UnixEpoch), new Row("-3.5", 0, DateTimeOffset.UnixEpoch)], Columns);

        var lines = csv.Split("\r\n");
        Assert.Equal(value.ToString(System.Globalization.CultureInfo.InvariantCulture), lines[1].Split(',')[1]);
        Assert.Equal("-3.5", lines[2].Split(',')[0]);
    }
}
