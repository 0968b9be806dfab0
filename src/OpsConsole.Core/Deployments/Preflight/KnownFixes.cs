using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using OpsConsole.Core.Database;

namespace OpsConsole.Core.Deployments.Preflight;

/// <summary>
/// What the pre-flight compares a target with: the signatures route.ts and the webhook call, and the bodies of our
/// drop-in, read from the embedded migration so that they are always the ones <c>migrate</c> would install.
/// The shipped fix has no hash here: the only copy in this repository is our re-expression of it.
/// </summary>
public static partial class KnownFixes
{
    /// <summary>The embedded drop-in migration.</summary>
    public const string DropInScript = "0002_fix_payment_race_conditions_20260206000001.sql";

    /// <summary>The table the drop-in records what it replaced in, for the rollback.</summary>
    public const string RollbackStateTable = "payment_fix_rollback_state";

    /// <summary>The four functions of both fixes, with the arguments the app calls them with (names included).</summary>
    public static IReadOnlyDictionary<string, string> PurchaseFunctions { get; } = new Dictionary<string, string>
    {
        ["validate_and_lock_leads_for_purchase"] = "p_lead_ids uuid[], p_buyer_workspace_id uuid",
        ["complete_credit_lead_purchase"] = "p_purchase_id uuid, p_workspace_id uuid, p_credit_amount numeric",
        ["complete_stripe_lead_purchase"] = "p_purchase_id uuid, p_download_url text",
        ["mark_leads_sold_bulk"] = "p_lead_ids uuid[]",
    };

    /// <summary>Every function name the drop-in drops before creating its own (its rollback drops the same).</summary>
    public static IReadOnlyList<string> DropInManagedNames { get; } =
    [
        "validate_and_lock_leads_for_purchase", "complete_credit_lead_purchase", "complete_stripe_lead_purchase", "mark_leads_sold_bulk",
        "release_expired_lead_reservations", "purchase_unsellable_leads", "mark_purchase_leads_sold", "release_purchase_reservations",
        "lead_reservation_interval",
    ];

    /// <summary>The body hash of each function the drop-in creates, by name.</summary>
    public static IReadOnlyDictionary<string, string> DropInBodyHashes { get; } = ReadDropInHashes();

    /// <summary>Credit columns the drop-in makes <c>numeric(14,4)</c>.</summary>
    public static IReadOnlyList<(string Table, string Column)> CreditColumns { get; } =
    [
        ("workspace_credits", "balance"), ("workspace_credits", "total_purchased"), ("workspace_credits", "total_used"),
        ("workspace_credits", "total_earned"), ("marketplace_purchases", "credits_used"),
    ];

    /// <summary>The type the drop-in gives the credit columns, as <c>format_type</c> writes it.</summary>
    public const string CreditType = "numeric(14,4)";

    /// <summary>Columns the drop-in adds when absent, with their types as <c>format_type</c> writes them.</summary>
    public static IReadOnlyList<(string Table, string Column, string Type)> AddedColumns { get; } =
    [
        ("leads", "sold_at", "timestamp with time zone"), ("leads", "marketplace_status", "character varying(20)"),
        ("leads", "reserved_for_workspace_id", "uuid"), ("leads", "reserved_until", "timestamp with time zone"),
        ("marketplace_purchases", "refund_required_at", "timestamp with time zone"),
    ];

    /// <summary>Columns the rollback always drops (the drop-in's own additions).</summary>
    public static IReadOnlyList<(string Table, string Column)> RollbackDroppedColumns { get; } =
        [("leads", "reserved_for_workspace_id"), ("leads", "reserved_until"), ("marketplace_purchases", "refund_required_at")];

    /// <summary>md5 (hex) of a function body with every run of whitespace made one space, ends trimmed.</summary>
    public static string BodyHash(string body) =>
        Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(Whitespace().Replace(body, " ").Trim())));

    private static Dictionary<string, string> ReadDropInHashes() =>
        CreateFunction().Matches(DatabaseMigrator.ReadScript(DropInScript))
            .ToDictionary(m => m.Groups["name"].Value, m => BodyHash(m.Groups["body"].Value), StringComparer.Ordinal);

    [GeneratedRegex(@"[ \t\r\n\f\v]+")]
    private static partial Regex Whitespace();

    // prosrc is exactly the text between the $$ quotes; the drop-in quotes every body with plain $$.
    [GeneratedRegex(@"CREATE FUNCTION public\.(?<name>\w+)\(.*?\bAS \$\$(?<body>.*?)\$\$", RegexOptions.Singleline)]
    private static partial Regex CreateFunction();
}
