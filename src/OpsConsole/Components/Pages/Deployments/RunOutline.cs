using OpsConsole.Core.Deployments;

namespace OpsConsole.Components.Pages.Deployments;

/// <summary>
/// The run page's parts, each a level-2 section of the runbook with its subsections, and what is done in each: the
/// outline beside the page, collapsing finished parts and keyboard moves all read it, so they agree.
/// </summary>
public sealed class RunOutline
{
    private RunOutline(IReadOnlyList<RunPart> parts) => Parts = parts;

    /// <summary>The parts shown on the page in order (contacts and reference panels are not parts).</summary>
    public IReadOnlyList<RunPart> Parts { get; }

    /// <summary>The parts of <paramref name="run"/>'s runbook, with its state.</summary>
    public static RunOutline Of(DeploymentRun run)
    {
        var parts = new List<RunPart>();
        List<RunbookSection>? current = null;
        foreach (var section in run.Runbook.Sections.Where(s => s.Role is not (SectionRole.Contacts or SectionRole.Reference)))
        {
            if (current is null || section.Level <= 2)
            {
                current = [];
                parts.Add(new RunPart(section, current, run));
            }
            else
            {
                current.Add(section);
            }
        }

        return new RunOutline(parts);
    }

    /// <summary>The part an item belongs to.</summary>
    public RunPart? PartOf(string itemKey) => Parts.FirstOrDefault(p => p.Items.Any(i => i.Key == itemKey));

    /// <summary>
    /// The part the run is at: the first with an item neither checked nor N/A. The rollback is left out: it is done only
    /// when a deployment is undone, and its open items would otherwise hold the page there on every run.
    /// </summary>
    public RunPart? Current => Parts.FirstOrDefault(p => p.Head.Role != SectionRole.Rollback && p.ItemsDone < p.Items.Count);

    /// <summary>
    /// Whether a part is open when the page opens: only what needs attention now (the current part, a part with a
    /// failing check, and the parts with nothing to tick: sign-off and notes). Finished parts and the rest are folded,
    /// so the page starts a screen or two tall rather than some 11,000 px.
    /// </summary>
    public bool OpensByDefault(RunPart part) =>
        part == Current
        || part.Probes.Any(p => part.StateOf(p) == ProbeState.Failing)
        || (part.Items.Count == 0 && part.Probes.Count == 0);

    /// <summary>The part holding the element of the run page with id <paramref name="elementId"/> (an item, a check, a section, the sign-off panel).</summary>
    public RunPart? PartHolding(string elementId) => Parts.FirstOrDefault(p =>
        p.Sections.Any(s => s.Key == elementId)
        || p.Items.Any(i => RunAnchors.Item(i.Key) == elementId)
        || p.Probes.Any(c => RunAnchors.Check(c.Key) == elementId)
        || (elementId == RunAnchors.SignOff && p.Head.Role == SectionRole.SignOff));
}

/// <summary>A level-2 section and its subsections.</summary>
public sealed class RunPart
{
    internal RunPart(RunbookSection head, List<RunbookSection> subsections, DeploymentRun run)
    {
        Head = head;
        Subsections = subsections;
        Run = run;
    }

    private DeploymentRun Run { get; }

    /// <summary>The level-2 section; its key is the part's key.</summary>
    public RunbookSection Head { get; }

    /// <summary>Its subsections, in order (filled while the outline is built).</summary>
    public IReadOnlyList<RunbookSection> Subsections { get; }

    /// <summary>The part's key (its heading's).</summary>
    public string Key => Head.Key;

    /// <summary>Every section of the part, the head first.</summary>
    public IEnumerable<RunbookSection> Sections => Subsections.Prepend(Head);

    /// <summary>Its checklist items, in order.</summary>
    public IReadOnlyList<ChecklistItem> Items => [.. Sections.SelectMany(s => s.Blocks.OfType<ChecklistItem>())];

    /// <summary>Its checks, in order.</summary>
    public IReadOnlyList<Probe> Probes => [.. Sections.SelectMany(s => s.Blocks.OfType<Probe>())];

    /// <summary>Items checked or N/A.</summary>
    public int ItemsDone => Items.Count(i => Run.StateOf(i.Key) != ItemState.Unchecked);

    /// <summary>The state of a check as the outline shows it.</summary>
    public ProbeState StateOf(Probe probe) => Run.LatestProbeResults.GetValueOrDefault(probe.Key) switch
    {
        null => ProbeState.NeverRun,
        { Passed: true } => ProbeState.Passing,
        _ => ProbeState.Failing,
    };

    /// <summary>Something to do, and all of it done: every item checked or N/A and every check passing. Only such a part collapses.</summary>
    public bool IsFinished => (Items.Count > 0 || Probes.Count > 0) && ItemsDone == Items.Count && Probes.All(p => StateOf(p) == ProbeState.Passing);
}

/// <summary>A check's latest result, as the outline shows it.</summary>
public enum ProbeState
{
    /// <summary>Never run on this run.</summary>
    NeverRun,

    /// <summary>Its latest run passed.</summary>
    Passing,

    /// <summary>Its latest run failed.</summary>
    Failing,
}
