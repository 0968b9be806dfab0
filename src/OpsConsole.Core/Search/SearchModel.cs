using System.Globalization;

namespace OpsConsole.Core.Search;

/// <summary>What was typed into the search box, read once: the text and what it can be taken for.</summary>
public sealed record SearchInput
{
    /// <summary>The longest input searched; anything longer is no id or name the console knows.</summary>
    public const int MaxLength = 200;

    private SearchInput(string text)
    {
        Text = text;
        Uuid = Guid.TryParse(text, out var uuid) ? uuid : null;
        Number = long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : null;
    }

    /// <summary>The input, trimmed.</summary>
    public string Text { get; }

    /// <summary>The input as a UUID (purchases, leads, workspaces), when it is one.</summary>
    public Guid? Uuid { get; }

    /// <summary>The input as a whole number without sign (a backend pid), when it is one.</summary>
    public long? Number { get; }

    /// <summary>The input as a case-insensitive <c>LIKE</c> pattern for "contains", wildcards in it escaped (with <c>\</c>).</summary>
    public string ContainsPattern => $"%{EscapeLike(Text)}%";

    /// <summary>The input as a <c>LIKE</c> pattern for "starts with".</summary>
    public string PrefixPattern => $"{EscapeLike(Text)}%";

    /// <summary>Reads <paramref name="raw"/>; null when it is empty or longer than <see cref="MaxLength"/>.</summary>
    public static SearchInput? Parse(string? raw)
    {
        var text = raw?.Trim() ?? "";
        return text.Length is 0 or > MaxLength ? null : new SearchInput(text);
    }

    private static string EscapeLike(string text) =>
        text.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal);
}

/// <summary>One row a kind's query returns.</summary>
/// <param name="Kind">The kind's <see cref="ISearchKind.Name"/>.</param>
/// <param name="Id">What was found, as text (a UUID, an event id, a pid).</param>
/// <param name="Label">What it is, for people choosing among several.</param>
/// <param name="PurchaseId">The purchase it belongs to, if any (a lead's buyer's purchase, a payment's).</param>
/// <param name="WorkspaceId">The workspace it belongs to, if any.</param>
/// <param name="Rank">0 for an exact match; higher for looser ones (a name that only contains the input).</param>
public sealed record SearchRow(string Kind, string Id, string Label, Guid? PurchaseId, Guid? WorkspaceId, int Rank);

/// <summary>Where a search lands.</summary>
/// <param name="Kind">What was found (<c>purchase</c>, <c>lead</c>, <c>workspace</c>, ...).</param>
/// <param name="Id">Its id.</param>
/// <param name="Url">The console page that shows it (relative to the site's root, no leading slash).</param>
/// <param name="Label">What it is, in words.</param>
public sealed record SearchTarget(string Kind, string Id, string Url, string Label);

/// <summary>The answer to a search: one target, several to choose from, or a message saying nothing was found.</summary>
/// <param name="Query">The input, trimmed.</param>
/// <param name="Target">The one place to go, when there is exactly one.</param>
/// <param name="Choices">The places to choose from when the input matched several (empty otherwise).</param>
/// <param name="Message">Null when something was found; otherwise what to tell the user.</param>
public sealed record SearchOutcome(string Query, SearchTarget? Target, IReadOnlyList<SearchTarget> Choices, string? Message);
