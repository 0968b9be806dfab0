namespace OpsConsole.Core.Deployments;

/// <summary>What a runbook section is for, from <c>{role=...}</c> after its heading; subsections inherit it.</summary>
public enum SectionRole
{
    /// <summary>No special meaning: shown as it is.</summary>
    None,

    /// <summary>The contact fields shown in the run's header (<c>contacts</c>).</summary>
    Contacts,

    /// <summary>Review, backup, testing (<c>pre-deployment</c>).</summary>
    PreDeployment,

    /// <summary>The deployment steps and their commands (<c>steps</c>).</summary>
    Steps,

    /// <summary>The migration checks (<c>migration-verification</c>).</summary>
    MigrationVerification,

    /// <summary>Verification after the deployment (<c>verification</c>).</summary>
    Verification,

    /// <summary>Monitoring after the deployment (<c>monitoring</c>).</summary>
    Monitoring,

    /// <summary>The rollback procedure; all of it done and signed makes the run ROLLED BACK (<c>rollback</c>).</summary>
    Rollback,

    /// <summary>The items approval needs, every one checked or N/A (<c>final-checklist</c>).</summary>
    FinalChecklist,

    /// <summary>Where the sign-off panel goes (<c>sign-off</c>).</summary>
    SignOff,

    /// <summary>Where the notes go (<c>notes</c>).</summary>
    Notes,

    /// <summary>A reference panel: troubleshooting, production issues, appendices (<c>reference</c>).</summary>
    Reference,
}

/// <summary>A parsed runbook template, one version of one Markdown file.</summary>
/// <param name="Slug">The file name without <c>.md</c>: the template's name.</param>
/// <param name="Title">The level-1 heading.</param>
/// <param name="VersionHash">SHA-256 (hex) of the Markdown with line endings normalised: the template version.</param>
/// <param name="Markdown">The Markdown the runbook was parsed from.</param>
/// <param name="IntroHtml">The text between the title and the first section, as HTML.</param>
/// <param name="Sections">The sections in document order; a subsection follows its parent.</param>
/// <param name="ContactFields">The fields of the contacts section, in order.</param>
public sealed record Runbook(
    string Slug,
    string Title,
    string VersionHash,
    string Markdown,
    string IntroHtml,
    IReadOnlyList<RunbookSection> Sections,
    IReadOnlyList<ContactField> ContactFields)
{
    /// <summary>Every checklist item, in document order.</summary>
    public IReadOnlyList<ChecklistItem> Items { get; } = [.. Sections.SelectMany(s => s.Blocks.OfType<ChecklistItem>())];

    /// <summary>Every probe, in document order.</summary>
    public IReadOnlyList<Probe> Probes { get; } = [.. Sections.SelectMany(s => s.Blocks.OfType<Probe>())];

    /// <summary>The item with <paramref name="key"/>, or null.</summary>
    public ChecklistItem? FindItem(string key) => Items.FirstOrDefault(i => i.Key == key);

    /// <summary>The probe with <paramref name="key"/>, or null.</summary>
    public Probe? FindProbe(string key) => Probes.FirstOrDefault(p => p.Key == key);

    /// <summary>The contact field with <paramref name="key"/>, or null.</summary>
    public ContactField? FindContactField(string key) => ContactFields.FirstOrDefault(f => f.Key == key);

    /// <summary>The items of the sections with <paramref name="role"/> (subsections included).</summary>
    public IReadOnlyList<ChecklistItem> ItemsOf(SectionRole role) => [.. Items.Where(i => i.Role == role)];
}

/// <summary>One heading and what follows it up to the next heading.</summary>
/// <param name="Key">Unique in the runbook: <c>{#id}</c> after the heading, or its title as a slug. Also the HTML anchor.</param>
/// <param name="Title">The heading's text.</param>
/// <param name="Level">2 for <c>##</c>, 3 for <c>###</c>, ...</param>
/// <param name="Role">What the section is for (inherited from its parent when it names none).</param>
/// <param name="Blocks">Its content in order.</param>
public sealed record RunbookSection(string Key, string Title, int Level, SectionRole Role, IReadOnlyList<RunbookBlock> Blocks);

/// <summary>A piece of a section.</summary>
public abstract record RunbookBlock;

/// <summary>Text to show, already rendered to HTML (raw HTML in the Markdown is escaped, not passed through).</summary>
public sealed record ProseBlock(string Html) : RunbookBlock;

/// <summary>A command to copy (a code block that is not a probe).</summary>
/// <param name="Language">The fence's info string (<c>bash</c>, <c>sql</c>, ...), empty when none.</param>
/// <param name="Text">The code.</param>
public sealed record CommandBlock(string Language, string Text) : RunbookBlock;

/// <summary>A <c>- [ ]</c> line: something a person does and ticks.</summary>
/// <param name="Key">Unique in the runbook, stable within a template version.</param>
/// <param name="Text">Plain text.</param>
/// <param name="Html">The text as inline HTML.</param>
/// <param name="DetailHtml">Nested content under the item (a list of files, ...), as HTML, or null.</param>
/// <param name="Role">The role of its section.</param>
/// <param name="SectionKey">The key of its section.</param>
public sealed record ChecklistItem(string Key, string Text, string Html, string? DetailHtml, SectionRole Role, string SectionKey) : RunbookBlock;

/// <summary>A read-only SQL check (a <c>```sql probe</c> block) and the result it must give.</summary>
/// <param name="Key">Unique in the runbook.</param>
/// <param name="Title">The block's first comment line, or the section's title.</param>
/// <param name="Sql">The query as written in the runbook (one statement).</param>
/// <param name="Expectation">The rule its result must meet.</param>
/// <param name="Role">The role of its section.</param>
/// <param name="SectionKey">The key of its section.</param>
public sealed record Probe(string Key, string Title, string Sql, ProbeExpectation Expectation, SectionRole Role, string SectionKey) : RunbookBlock;

/// <summary>A field of the run's header (on-call engineer, channel, ...).</summary>
/// <param name="Key">Unique in the runbook.</param>
/// <param name="Label">The label as written.</param>
/// <param name="DefaultValue">The value a new run starts with (text after the colon), or empty.</param>
public sealed record ContactField(string Key, string Label, string DefaultValue);
