namespace OpsConsole.Core.Search;

/// <summary>
/// One kind of thing the search box finds. A kind says, for an input, the query that looks for it (or null when the
/// input cannot be one), and where a row of that query leads. The resolver runs the queries of every kind that takes
/// the input as one statement, so a search is one round trip however many kinds there are. A feature adds a kind by
/// registering it: <c>services.AddSingleton&lt;ISearchKind, MyKind&gt;()</c> in its own <c>AddOpsConsole&lt;Feature&gt;</c>.
/// </summary>
public interface ISearchKind
{
    /// <summary>The kind's name, as its rows' <c>kind</c> column says it; unique among kinds.</summary>
    string Name { get; }

    /// <summary>What the kind finds, for the page that lists what the search knows ("a purchase id", ...).</summary>
    string Description { get; }

    /// <summary>
    /// One <c>SELECT</c> (it may hold its own <c>ORDER BY</c>/<c>LIMIT</c>; it is run in parentheses) returning the columns
    /// <c>kind text, id text, label text, purchase_id uuid, workspace_id uuid, rank int</c>, at most 10 rows, or null when
    /// <paramref name="input"/> cannot be one of these. Parameters: <c>@Text</c>, <c>@Uuid</c>, <c>@Number</c>,
    /// <c>@Contains</c> and <c>@Prefix</c> (see <see cref="SearchInput"/>); never the input spliced into the text.
    /// </summary>
    string? Sql(SearchInput input);

    /// <summary>Where <paramref name="row"/>, one of this kind's, leads.</summary>
    SearchTarget Target(SearchRow row);
}
