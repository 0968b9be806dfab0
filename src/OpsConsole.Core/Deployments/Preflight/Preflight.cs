using Npgsql;
using OpsConsole.Core.Database;

namespace OpsConsole.Core.Deployments.Preflight;

/// <summary>
/// Reads a target marketplace database before a deployment and says what it found: which fix is installed, the
/// columns and types the fix touches, RLS, what <c>migrate</c> would change and what the rollback would do.
/// One read-only transaction under a statement timeout; nothing is written. Reads this login may not make
/// (the console's journal, the rollback state) are reported as unreadable rather than failing the whole report.
/// </summary>
public sealed class Preflight(NpgsqlDataSource dataSource, TimeSpan? statementTimeout = null)
{
    /// <summary>The tables without which the target is not a marketplace.</summary>
    public static IReadOnlyList<string> MarketplaceTables { get; } = ["leads", "workspace_credits", "marketplace_purchases", "marketplace_purchase_items"];

    /// <summary>The tables whose RLS the report shows.</summary>
    public static IReadOnlyList<string> FixTables { get; } =
        ["leads", "workspace_credits", "marketplace_purchases", "marketplace_purchase_items", "audit_logs", KnownFixes.RollbackStateTable];

    private const string InsufficientPrivilege = "42501";

    private readonly TimeSpan _timeout = statementTimeout ?? TimeSpan.FromSeconds(30);

    /// <summary>Reads the target and returns what it found.</summary>
    public async Task<PreflightReport> RunAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, $"SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {(long)_timeout.TotalMilliseconds}", cancellationToken);

        var (database, login, at) = await IdentityAsync(connection, cancellationToken);
        var tables = await TablesAsync(connection, cancellationToken);
        var missing = MarketplaceTables.Where(t => !tables.Any(x => x.Table == t && x.Exists)).ToArray();
        var columns = await ColumnsAsync(connection, cancellationToken);
        var functions = await FunctionsAsync(connection, cancellationToken);
        var stateExists = tables.Single(t => t.Table == KnownFixes.RollbackStateTable).Exists;
        var (fix, why) = Identify(functions, columns, stateExists);

        var journal = await TryAsync(transaction, () => DatabaseMigrator.ReadJournalAsync(connection, cancellationToken), cancellationToken);
        var migration = Plan(journal, missing.Length == 0, functions, columns, stateExists);

        RollbackPlan? rollback = null;
        if (stateExists)
        {
            var state = await TryAsync(transaction, () => RollbackStateAsync(connection, cancellationToken), cancellationToken);
            rollback = state.Readable
                ? await RollbackAsync(state.Value!, functions, columns, transaction, connection, cancellationToken)
                : new RollbackPlan(false, FixedRollbackChanges(functions, columns, []), false, null,
                    $"{KnownFixes.RollbackStateTable} exists, but {login} may not read it (it belongs to the migrating login, RLS on): which functions come back " +
                    "and which columns convert back is unknown; run the pre-flight as the login that migrates.");
        }

        await transaction.RollbackAsync(cancellationToken);
        return new PreflightReport(database, login, at, missing, fix, why, functions, columns, tables, migration, rollback);
    }

    /// <summary>Tells the fix from the four functions: signatures first, then our bodies and markers.</summary>
    public static (InstalledFix Fix, string Why) Identify(IReadOnlyList<PreflightFunction> functions, IReadOnlyList<PreflightColumn> columns, bool rollbackStateExists)
    {
        var four = functions.Where(f => KnownFixes.PurchaseFunctions.ContainsKey(f.Name)).ToArray();
        if (four.Length == 0)
        {
            return (InstalledFix.None, "None of the four purchase functions exists.");
        }

        List<string> odd = [];
        foreach (var (name, arguments) in KnownFixes.PurchaseFunctions)
        {
            var overloads = four.Where(f => f.Name == name).ToArray();
            if (overloads.Length == 0)
            {
                odd.Add($"{name} is missing");
            }
            else if (overloads.Length > 1)
            {
                odd.Add($"{name} has {overloads.Length} signatures ({string.Join("; ", overloads.Select(o => o.Signature))})");
            }
            else if (!overloads[0].ExpectedSignature)
            {
                odd.Add($"{overloads[0].Signature} is not the signature the app calls ({name}({arguments}))");
            }
        }

        if (odd.Count > 0)
        {
            return (InstalledFix.Other, string.Join("; ", odd) + ".");
        }

        var ours = four.Count(f => f.MatchesDropIn);
        var markers = new List<string>();
        if (rollbackStateExists)
        {
            markers.Add(KnownFixes.RollbackStateTable);
        }

        markers.AddRange(columns.Where(c => c.Table == "leads" && c.Column.StartsWith("reserved_", StringComparison.Ordinal) && c.Type is not null).Select(c => c.Name));
        if (ours == four.Length)
        {
            return (InstalledFix.DropIn, "The four functions have the app's signatures and our drop-in's bodies (md5 of each body matches).");
        }

        if (ours == 0 && markers.Count == 0)
        {
            return (InstalledFix.Shipped,
                "The four functions have the app's signatures, their bodies are not ours, and none of our markers exists " +
                $"({KnownFixes.RollbackStateTable}, leads.reserved_*): the shipped fix, told by signature (no hash of it is known here).");
        }

        return (InstalledFix.Other, ours > 0
            ? $"{ours} of the four functions have our drop-in's bodies, {four.Length - ours} do not ({string.Join(", ", four.Where(f => !f.MatchesDropIn).Select(f => f.Name))})."
            : $"The four functions have the app's signatures but not our bodies, while our markers exist ({string.Join(", ", markers)}): a changed drop-in or a partial rollback.");
    }

    private static MigrationPlan Plan(
        ReadResult<IReadOnlyList<string>?> journal, bool isMarketplace, IReadOnlyList<PreflightFunction> functions, IReadOnlyList<PreflightColumn> columns, bool stateExists)
    {
        List<string> notes = [];
        IReadOnlyList<string>? applied = journal.Readable ? journal.Value ?? [] : null;
        if (!journal.Readable)
        {
            notes.Add("This login may not read the console's journal (ops.schema_versions): which scripts are pending is unknown.");
        }
        else if (journal.Value is null)
        {
            notes.Add("No console journal (ops.schema_versions): the console has never migrated this database; every script is pending.");
        }

        var pending = applied is null ? [] : DatabaseMigrator.ScriptNames.Where(s => !applied.Contains(s)).ToArray();
        var preRelease = applied?.Intersect(DatabaseMigrator.PreReleaseScripts).ToArray() ?? [];
        if (preRelease.Length > 0)
        {
            notes.Add($"migrate refuses this database: a pre-release console migrated it ({string.Join(", ", preRelease)}); rebuild it.");
        }

        if (isMarketplace && pending.Contains(DatabaseMigrator.MarketplaceSchemaScript))
        {
            notes.Add($"{DatabaseMigrator.MarketplaceSchemaScript} is journalled without running: the marketplace's own tables are never created or altered by the stand-in.");
        }

        // The drop-in is idempotent: when its script is pending, what it changes is what differs from it now.
        var dropInPending = applied is null || pending.Contains(KnownFixes.DropInScript);
        IReadOnlyList<PlannedChange> changes = dropInPending && isMarketplace ? DropInChanges(functions, columns, stateExists) : [];
        if (dropInPending && isMarketplace && changes.Count == 0)
        {
            notes.Add($"{KnownFixes.DropInScript} is pending, but the drop-in is in place already: running it again changes nothing.");
        }

        return new MigrationPlan(applied, pending, notes, changes);
    }

    /// <summary>What the drop-in would change if it ran now on a target in this state.</summary>
    public static IReadOnlyList<PlannedChange> DropInChanges(IReadOnlyList<PreflightFunction> functions, IReadOnlyList<PreflightColumn> columns, bool stateExists)
    {
        List<PlannedChange> changes = [];
        if (!stateExists)
        {
            changes.Add(new(PlannedChangeKind.CreateTable, KnownFixes.RollbackStateTable,
                $"creates {KnownFixes.RollbackStateTable} (RLS on) and records the functions and column types it finds, for the rollback"));
        }

        foreach (var (table, column, type) in KnownFixes.AddedColumns)
        {
            if (Type(columns, table, column) is null)
            {
                changes.Add(new(PlannedChangeKind.AddColumn, $"{table}.{column}", $"adds {table}.{column} {type}" +
                    (column == "marketplace_status" ? " (listed, unsold leads become 'available')" : "")));
            }
        }

        foreach (var (table, column) in KnownFixes.CreditColumns)
        {
            var type = Type(columns, table, column);
            if (type != KnownFixes.CreditType)
            {
                changes.Add(new(PlannedChangeKind.ConvertColumn, $"{table}.{column}", type is null
                    ? $"converts {table}.{column} to {KnownFixes.CreditType}, but the column is missing: the migration will fail"
                    : $"converts {table}.{column} from {type} to {KnownFixes.CreditType} (every whole balance converts exactly)"));
            }
        }

        foreach (var function in functions.Where(f => KnownFixes.DropInManagedNames.Contains(f.Name)))
        {
            var ours = KnownFixes.DropInBodyHashes.ContainsKey(function.Name);
            if (!ours)
            {
                changes.Add(new(PlannedChangeKind.DropFunction, function.Signature, $"drops {function.Signature}"));
            }
            else if (!function.MatchesDropIn || functions.Count(f => f.Name == function.Name) > 1)
            {
                changes.Add(new(PlannedChangeKind.ReplaceFunction, function.Signature, $"replaces {function.Signature} with the race-free version"));
            }
        }

        foreach (var name in KnownFixes.DropInBodyHashes.Keys.Where(n => functions.All(f => f.Name != n)))
        {
            changes.Add(new(PlannedChangeKind.CreateFunction, name, $"creates {name}"));
        }

        return changes;
    }

    private static async Task<RollbackPlan> RollbackAsync(
        IReadOnlyList<(string Kind, string Name, string? Definition)> state, IReadOnlyList<PreflightFunction> functions, IReadOnlyList<PreflightColumn> columns,
        NpgsqlTransaction transaction, NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var restored = state.Where(s => s.Kind == "function").Select(s => s.Name).Order(StringComparer.Ordinal).ToArray();
        var changes = FixedRollbackChanges(functions, columns, restored).ToList();
        var fractionsRound = false;
        foreach (var (_, name, definition) in state.Where(s => s.Kind == "column"))
        {
            var (table, column) = (name.Split('.')[0], name.Split('.')[1]);
            var now = Type(columns, table, column);
            if (string.IsNullOrEmpty(definition))
            {
                if (now is not null)
                {
                    changes.Add(new(PlannedChangeKind.DropColumn, name, $"drops {name} (the drop-in added it)"));
                }
            }
            else if (now is not null && now != definition)
            {
                var toWhole = definition is "integer" or "bigint" or "smallint" && now.StartsWith("numeric", StringComparison.Ordinal);
                fractionsRound |= toWhole;
                changes.Add(new(PlannedChangeKind.ConvertColumn, name, $"converts {name} back from {now} to {definition}" + (toWhole ? " (fractions round)" : "")));
            }
        }

        changes.Add(new(PlannedChangeKind.DropTable, KnownFixes.RollbackStateTable, $"drops {KnownFixes.RollbackStateTable}"));
        long? fractions = null;
        string? note = null;
        if (fractionsRound)
        {
            var counted = await TryAsync(transaction, () => RowsWithFractionsAsync(connection, cancellationToken), cancellationToken);
            fractions = counted.Readable ? counted.Value : null;
            note = counted.Readable ? null : "This login may not read workspace_credits or marketplace_purchases: rows holding fractions are not counted.";
        }

        return new RollbackPlan(true, changes, fractionsRound, fractions, note);
    }

    // What the rollback does whatever the state says: drops every overload of the drop-in's names (then restores
    // the recorded ones) and the columns the drop-in always adds.
    private static IReadOnlyList<PlannedChange> FixedRollbackChanges(IReadOnlyList<PreflightFunction> functions, IReadOnlyList<PreflightColumn> columns, IReadOnlyList<string> restored)
    {
        var restoredNames = restored.Select(r => r.Split('(')[0]).ToHashSet(StringComparer.Ordinal);
        List<PlannedChange> changes = [];
        foreach (var function in functions.Where(f => KnownFixes.DropInManagedNames.Contains(f.Name) && !restoredNames.Contains(f.Name)))
        {
            changes.Add(new(PlannedChangeKind.DropFunction, function.Signature, $"drops {function.Signature} (nothing was there before the drop-in)"));
        }

        changes.AddRange(restored.Select(r => new PlannedChange(PlannedChangeKind.RestoreFunction, r, $"restores {r} as it was before the drop-in, with its grants")));
        foreach (var (table, column) in KnownFixes.RollbackDroppedColumns.Where(c => Type(columns, c.Table, c.Column) is not null))
        {
            changes.Add(new(PlannedChangeKind.DropColumn, $"{table}.{column}", $"drops {table}.{column} (the drop-in added it)"));
        }

        return changes;
    }

    private static string? Type(IReadOnlyList<PreflightColumn> columns, string table, string column) =>
        columns.FirstOrDefault(c => c.Table == table && c.Column == column)?.Type;

    private static async Task<(string, string, DateTimeOffset)> IdentityAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT current_database(), session_user::text, now()", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2));
    }

    private static async Task<IReadOnlyList<PreflightTable>> TablesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT t.name, c.oid IS NOT NULL, coalesce(c.relrowsecurity, false)
            FROM unnest($1::text[]) WITH ORDINALITY AS t(name, n)
            LEFT JOIN pg_class c ON c.relname = t.name AND c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
            ORDER BY t.n
            """;
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = FixTables.ToArray() });
        List<PreflightTable> tables = [];
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            tables.Add(new(reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2)));
        }

        return tables;
    }

    private static async Task<IReadOnlyList<PreflightColumn>> ColumnsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT x.tbl, x.col, format_type(a.atttypid, a.atttypmod)
            FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(tbl, col, n)
            LEFT JOIN pg_class c ON c.relname = x.tbl AND c.relnamespace = 'public'::regnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = x.col AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY x.n
            """;
        var wanted = KnownFixes.CreditColumns.Concat(KnownFixes.AddedColumns.Select(c => (c.Table, c.Column))).ToArray();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = wanted.Select(c => c.Item1).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = wanted.Select(c => c.Item2).ToArray() });
        List<PreflightColumn> columns = [];
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            columns.Add(new(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
        }

        return columns;
    }

    private static async Task<IReadOnlyList<PreflightFunction>> FunctionsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT p.proname::text, pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid), p.prosrc
            FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace AND p.proname = ANY($1)
            ORDER BY p.proname, 2
            """;
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = KnownFixes.DropInManagedNames.ToArray() });
        List<PreflightFunction> functions = [];
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var (name, arguments) = (reader.GetString(0), reader.GetString(1));
            var hash = KnownFixes.BodyHash(reader.GetString(3));
            functions.Add(new(name, arguments, reader.IsDBNull(2) ? "" : reader.GetString(2), hash,
                !KnownFixes.PurchaseFunctions.TryGetValue(name, out var expected) || expected == arguments,
                KnownFixes.DropInBodyHashes.TryGetValue(name, out var ours) && ours == hash));
        }

        return functions;
    }

    private static async Task<IReadOnlyList<(string Kind, string Name, string? Definition)>> RollbackStateAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"SELECT kind, name, definition FROM public.{KnownFixes.RollbackStateTable} WHERE kind IN ('function', 'column') ORDER BY kind, name", connection);
        List<(string, string, string?)> rows = [];
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
        }

        return rows;
    }

    private static async Task<long> RowsWithFractionsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT (SELECT count(*) FROM public.workspace_credits c
                    WHERE c.balance <> trunc(c.balance) OR coalesce(c.total_purchased, 0) <> trunc(coalesce(c.total_purchased, 0))
                       OR coalesce(c.total_used, 0) <> trunc(coalesce(c.total_used, 0)) OR coalesce(c.total_earned, 0) <> trunc(coalesce(c.total_earned, 0)))
                 + (SELECT count(*) FROM public.marketplace_purchases p WHERE p.credits_used <> trunc(p.credits_used))
            """;
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private readonly record struct ReadResult<T>(bool Readable, T? Value);

    // A read this login may not make (insufficient privilege) becomes "not readable"; the savepoint keeps the
    // transaction usable for the rest of the report.
    private static async Task<ReadResult<T>> TryAsync<T>(NpgsqlTransaction transaction, Func<Task<T>> read, CancellationToken cancellationToken)
    {
        await transaction.SaveAsync("preflight_read", cancellationToken);
        try
        {
            var value = await read();
            await transaction.ReleaseAsync("preflight_read", cancellationToken);
            return new(true, value);
        }
        catch (PostgresException e) when (e.SqlState == InsufficientPrivilege)
        {
            await transaction.RollbackAsync("preflight_read", cancellationToken);
            return new(false, default);
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
