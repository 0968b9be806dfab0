using System.Globalization;
using CsvHelper;

namespace OpsConsole.Core.Exports;

/// <summary>
/// The one CSV writer of the console (CsvHelper): RFC 4180 quoting, invariant culture, and formula injection
/// escaped, so a cell a user typed ("=HYPERLINK(...)") opens in a spreadsheet as text, never as a formula.
/// A cell that is a number ("-18.25") is written as the number, so a spreadsheet sums it.
/// </summary>
public static class CsvExport
{
    private static readonly CsvWriterOptions Options = new()
    {
        // CsvHelper's own escaping also quotes negative numbers ("'-18.25"), which spreadsheets then skip in sums;
        // Neutralise below escapes only text that is not a number.
        Injection = CsvInjection.None,
        FormatProvider = CultureInfo.InvariantCulture,
        NewLine = "\r\n",
    };

    /// <summary>
    /// <paramref name="rows"/> as CSV text: a header from <paramref name="columns"/>' names, then one line per row with
    /// each column's value. Dates are written in ISO 8601.
    /// </summary>
    public static string Write<T>(IEnumerable<T> rows, IReadOnlyList<CsvColumn<T>> columns)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        using (var csv = CsvWriter.Create(writer, Options, leaveOpen: true))
        {
            foreach (var column in columns)
            {
                csv.WriteField(column.Name);
            }

            csv.EndRecord();
            foreach (var row in rows)
            {
                foreach (var column in columns)
                {
                    csv.WriteField(Neutralise(Format(column.Value(row))));
                }

                csv.EndRecord();
            }
        }

        return writer.ToString();
    }

    private static readonly char[] FormulaStarts = ['=', '+', '-', '@', '\t', '\r'];

    /// <summary>
    /// <paramref name="cell"/> prefixed with an apostrophe when a spreadsheet would run it as a formula
    /// (OWASP's list of leading characters), unchanged when it reads as a number.
    /// </summary>
    public static string Neutralise(string cell) =>
        cell.Length > 0 && Array.IndexOf(FormulaStarts, cell[0]) >= 0 && !IsNumber(cell) ? "'" + cell : cell;

    private static bool IsNumber(string cell) =>
        decimal.TryParse(cell, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out _);

    private static string Format(object? value) => value switch
    {
        null => "",
        DateTimeOffset at => at.ToString("O", CultureInfo.InvariantCulture),
        DateTime at => at.ToString("O", CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

/// <summary>One column of a CSV export: its header and how to read its value from a row.</summary>
public sealed record CsvColumn<T>(string Name, Func<T, object?> Value);
