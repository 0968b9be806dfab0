using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace OpsConsole.Core.Deployments;

/// <summary>A runbook file the console knows, parsed, or with the reason it cannot be used.</summary>
/// <param name="Slug">The file name without <c>.md</c>.</param>
/// <param name="Source">Where it came from: <c>built-in</c> or the file's path.</param>
/// <param name="Runbook">The parsed runbook, or null when it has problems.</param>
/// <param name="Problems">Why it cannot be used (empty when it can).</param>
public sealed record RunbookTemplate(string Slug, string Source, Runbook? Runbook, IReadOnlyList<string> Problems);

/// <summary>
/// The runbooks a run can start from: those shipped in this assembly (<c>Deployments/Runbooks/*.md</c>) and the
/// <c>*.md</c> files of <see cref="DeploymentOptions.RunbookDirectory"/>, read again on every listing so that a
/// runbook added there is offered without a restart. A file in the folder with the name of a built-in one
/// replaces it. Parsed runbooks are cached by name and version hash, which is also how a run finds its own version.
/// </summary>
public sealed class RunbookCatalog(IOptions<DeploymentOptions> options)
{
    private const string ResourcePrefix = "OpsConsole.Core.Deployments.Runbooks.";
    private readonly ConcurrentDictionary<string, Runbook> _byVersion = new(StringComparer.Ordinal);

    /// <summary>The built-in runbook of the race-condition-fix deployment.</summary>
    public const string RaceConditionFixes = "race-condition-fixes";

    /// <summary>Every runbook, built-in first, then the folder's, each group by name.</summary>
    public IReadOnlyList<RunbookTemplate> List()
    {
        var sources = new Dictionary<string, (string Source, string Markdown)>(StringComparer.OrdinalIgnoreCase);
        var assembly = typeof(RunbookCatalog).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".md", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            sources[name[ResourcePrefix.Length..^3]] = ("built-in", reader.ReadToEnd());
        }

        if (options.Value.RunbookDirectory is { Length: > 0 } folder && Directory.Exists(folder))
        {
            foreach (var file in Directory.GetFiles(folder, "*.md").Order(StringComparer.Ordinal))
            {
                // Named by file name only: the page shows it, and the server's folder layout is nobody's business.
                sources[Path.GetFileNameWithoutExtension(file)] = ("runbook folder, " + Path.GetFileName(file), File.ReadAllText(file));
            }
        }

        return [.. sources.Select(s => Load(s.Key, s.Value.Source, s.Value.Markdown))];
    }

    /// <summary>The runbook named <paramref name="slug"/>, or null when there is none.</summary>
    public RunbookTemplate? Find(string slug) =>
        List().FirstOrDefault(t => string.Equals(t.Slug, slug, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The runbook of a stored template version (a run's own version, whatever the files say now).
    /// Throws <see cref="RunbookParseException"/> when the stored text no longer parses.
    /// </summary>
    public Runbook ForVersion(string slug, string markdown)
    {
        var version = RunbookParser.VersionOf(markdown);
        return _byVersion.GetOrAdd(slug + ":" + version, _ => RunbookParser.Parse(slug, markdown));
    }

    /// <summary>The parsed runbook of a version seen before, or null.</summary>
    public Runbook? CachedVersion(string slug, string versionHash) => _byVersion.GetValueOrDefault(slug + ":" + versionHash);

    private RunbookTemplate Load(string slug, string source, string markdown)
    {
        try
        {
            return new RunbookTemplate(slug, source, ForVersion(slug, markdown), []);
        }
        catch (RunbookParseException e)
        {
            return new RunbookTemplate(slug, source, null, e.Problems);
        }
    }
}
