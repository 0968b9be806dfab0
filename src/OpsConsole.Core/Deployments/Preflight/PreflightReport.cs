namespace OpsConsole.Core.Deployments.Preflight;

/// <summary>Which purchase fix a target carries, as told by the four functions' signatures and bodies.</summary>
public enum InstalledFix
{
    /// <summary>None of the four purchase functions exists.</summary>
    None,

    /// <summary>The shipped fix (cdacbd82's 20260205000001): its signatures, none of our markers. Told by signature only.</summary>
    Shipped,

    /// <summary>Our drop-in (20260206000001): every body matches the embedded migration's.</summary>
    DropIn,

    /// <summary>Some of the functions, other signatures, or our markers with bodies that differ from ours.</summary>
    Other,
}

/// <summary>One purchase function found on the target.</summary>
/// <param name="Name">Its name (schema public).</param>
/// <param name="Arguments">Its arguments with their names, as <c>pg_get_function_identity_arguments</c> gives them.</param>
/// <param name="Result">Its result, as <c>pg_get_function_result</c> gives it.</param>
/// <param name="BodyHash">md5 of its body with whitespace runs made one space.</param>
/// <param name="ExpectedSignature">Whether its arguments are those route.ts and the webhook call with.</param>
/// <param name="MatchesDropIn">Whether its body is our drop-in's.</param>
public sealed record PreflightFunction(string Name, string Arguments, string Result, string BodyHash, bool ExpectedSignature, bool MatchesDropIn)
{
    /// <summary>Name and arguments, as a person reads a signature.</summary>
    public string Signature => $"{Name}({Arguments})";
}

/// <summary>A column the fix touches.</summary>
/// <param name="Table">Its table (schema public).</param>
/// <param name="Column">Its name.</param>
/// <param name="Type">Its type (<c>format_type</c>), or null when the column is absent.</param>
public sealed record PreflightColumn(string Table, string Column, string? Type)
{
    /// <summary><c>table.column</c>.</summary>
    public string Name => $"{Table}.{Column}";
}

/// <summary>A table the fix touches, and whether row-level security is on.</summary>
public sealed record PreflightTable(string Table, bool Exists, bool RowLevelSecurity);

/// <summary>What kind of change a migration or rollback makes.</summary>
public enum PlannedChangeKind
{
    /// <summary>A column's type changes.</summary>
    ConvertColumn,

    /// <summary>A column is added.</summary>
    AddColumn,

    /// <summary>A column is dropped.</summary>
    DropColumn,

    /// <summary>A function present now is dropped and recreated with another body.</summary>
    ReplaceFunction,

    /// <summary>A function is created where there is none.</summary>
    CreateFunction,

    /// <summary>A function is dropped and not recreated.</summary>
    DropFunction,

    /// <summary>A function recorded before the drop-in is put back.</summary>
    RestoreFunction,

    /// <summary>A table is created.</summary>
    CreateTable,

    /// <summary>A table is dropped.</summary>
    DropTable,
}

/// <summary>One change, with the object it is on and a sentence for people.</summary>
public sealed record PlannedChange(PlannedChangeKind Kind, string Target, string Description);

/// <summary>What <c>migrate</c> would do on the target.</summary>
/// <param name="AppliedScripts">Scripts in the console's journal (<c>ops.schema_versions</c>); null when it could not be read.</param>
/// <param name="PendingScripts">Embedded scripts not in the journal, in the order they apply.</param>
/// <param name="Notes">What else migrate does or refuses (the stand-in journalled without running, a pre-release journal).</param>
/// <param name="DropInChanges">What the drop-in (0002) would change if it runs now; empty when it is pending but in place, or applied.</param>
public sealed record MigrationPlan(
    IReadOnlyList<string>? AppliedScripts, IReadOnlyList<string> PendingScripts, IReadOnlyList<string> Notes, IReadOnlyList<PlannedChange> DropInChanges);

/// <summary>What <c>rollback_20260206000001.sql</c> would do, from <c>payment_fix_rollback_state</c>.</summary>
/// <param name="StateReadable">Whether this login could read the state table (it is the migrating owner's, RLS on).</param>
/// <param name="Changes">Functions restored and dropped, columns converted back and dropped, the state table dropped.</param>
/// <param name="FractionsRound">Whether a credit column goes back to INTEGER, so amounts with fractions round to whole credits.</param>
/// <param name="RowsWithFractions">Credit and purchase rows holding a fraction now (null: not readable by this login).</param>
/// <param name="Note">Why something could not be read, when it could not.</param>
public sealed record RollbackPlan(bool StateReadable, IReadOnlyList<PlannedChange> Changes, bool FractionsRound, long? RowsWithFractions, string? Note);

/// <summary>What the pre-flight found on a target marketplace database, before a deployment.</summary>
/// <param name="Database">The target's <c>current_database()</c>.</param>
/// <param name="Login">The login it read as (<c>session_user</c>).</param>
/// <param name="At">When it read.</param>
/// <param name="MissingTables">Marketplace tables the target lacks (any: it is not a marketplace).</param>
/// <param name="Fix">Which fix is installed.</param>
/// <param name="FixDescription">Why the fix was told so, in a sentence.</param>
/// <param name="Functions">The purchase functions found (every overload of the drop-in's names).</param>
/// <param name="Columns">The columns the fix touches, with their types.</param>
/// <param name="Tables">The tables the fix touches, with row-level security.</param>
/// <param name="Migration">What migrate would change.</param>
/// <param name="Rollback">What the rollback would do; null when <c>payment_fix_rollback_state</c> does not exist.</param>
public sealed record PreflightReport(
    string Database, string Login, DateTimeOffset At, IReadOnlyList<string> MissingTables, InstalledFix Fix, string FixDescription,
    IReadOnlyList<PreflightFunction> Functions, IReadOnlyList<PreflightColumn> Columns, IReadOnlyList<PreflightTable> Tables,
    MigrationPlan Migration, RollbackPlan? Rollback)
{
    /// <summary>Whether the target has the marketplace's tables.</summary>
    public bool IsMarketplace => MissingTables.Count == 0;

    /// <summary>The column's type, or null when absent or not read.</summary>
    public string? TypeOf(string table, string column) => Columns.FirstOrDefault(c => c.Table == table && c.Column == column)?.Type;

    /// <summary>The fix as the report names it ("shipped (by signature)" rather than a hash match it cannot have).</summary>
    public string FixName => Fix switch
    {
        InstalledFix.None => "none",
        InstalledFix.Shipped => "shipped (by signature)",
        InstalledFix.DropIn => "our drop-in (body hashes match)",
        _ => "something else",
    };
}
