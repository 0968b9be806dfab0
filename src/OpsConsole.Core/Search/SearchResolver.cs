using Dapper;
using Npgsql;
using OpsConsole.Core.Actions;

namespace OpsConsole.Core.Search;

/// <summary>
/// Finds what was pasted into the search box: asks every registered <see cref="ISearchKind"/> whether the input could be
/// one of its own, runs the queries of those that say yes as one parameterised statement (one round trip, at most
/// <see cref="MaxRows"/> rows, under <see cref="Timeout"/>), and answers with the one page to go to, the choices, or a
/// message. It only reads.
/// </summary>
public sealed class SearchResolver(NpgsqlDataSource dataSource, IEnumerable<ISearchKind> kinds)
{
    /// <summary>The most rows one search reads.</summary>
    public const int MaxRows = 20;

    /// <summary>How long a search may take before it gives up (seconds).</summary>
    public const int Timeout = 5;

    private readonly IReadOnlyList<ISearchKind> _kinds = [.. kinds];

    /// <summary>The kinds the search knows, in registration order.</summary>
    public IReadOnlyList<ISearchKind> Kinds => _kinds;

    /// <summary>Resolves <paramref name="query"/> for <paramref name="actor"/> (who must be able to view).</summary>
    public async Task<OpsResult<SearchOutcome>> ResolveAsync(OpsActor actor, string? query, CancellationToken cancellationToken)
    {
        if (actor.Lacks(OpsPermissions.View) is { } refusal)
        {
            return refusal;
        }

        if (SearchInput.Parse(query) is not { } input)
        {
            return Refusal.Invalid(string.IsNullOrWhiteSpace(query)
                ? "Type or paste an id or a name to search for."
                : $"That is longer than any id or name ({SearchInput.MaxLength} characters at most).");
        }

        var queries = _kinds.Select(k => (Kind: k, Sql: k.Sql(input))).Where(k => k.Sql is not null).ToArray();
        if (queries.Length == 0)
        {
            return new SearchOutcome(input.Text, null, [], NothingFound(input.Text));
        }

        var sql = $"""
            SELECT kind, id, label, purchase_id AS PurchaseId, workspace_id AS WorkspaceId, rank
            FROM ({string.Join("\nUNION ALL\n", queries.Select(q => $"({q.Sql})"))}) AS hits
            ORDER BY rank, label
            LIMIT {MaxRows}
            """;
        var parameters = new
        {
            input.Text,
            input.Uuid,
            input.Number,
            Contains = input.ContainsPattern,
            Prefix = input.PrefixPattern,
        };
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<SearchRow>(
            new CommandDefinition(sql, parameters, commandTimeout: Timeout, cancellationToken: cancellationToken))).ToList();

        var byName = queries.ToDictionary(q => q.Kind.Name, q => q.Kind);
        var targets = rows.Select(r => byName[r.Kind].Target(r)).ToList();
        if (targets.Count == 0)
        {
            return new SearchOutcome(input.Text, null, [], NothingFound(input.Text));
        }

        // One exact match wins over looser ones (a workspace named exactly so, beside others whose names contain it).
        var best = rows.Min(r => r.Rank);
        var bestTargets = targets.Where((_, i) => rows[i].Rank == best).ToList();
        return bestTargets.Count == 1
            ? new SearchOutcome(input.Text, bestTargets[0], [], null)
            : new SearchOutcome(input.Text, null, targets, null);
    }

    private string NothingFound(string text) =>
        $"Nothing found for \u201c{text}\u201d. The search knows {string.Join(", ", _kinds.Select(k => k.Description))}.";
}
