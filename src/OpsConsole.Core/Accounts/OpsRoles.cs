namespace OpsConsole.Core.Accounts;

/// <summary>The roles a console user can hold. Stored lower-case, as written here.</summary>
public static class OpsRoles
{
    /// <summary>Signs off deployments, cancels and terminates backends.</summary>
    public const string Engineer = "engineer";

    /// <summary>Edits credits.</summary>
    public const string Support = "support";

    /// <summary>Signs off and approves deployments.</summary>
    public const string Manager = "manager";

    /// <summary>May do everything.</summary>
    public const string Admin = "admin";

    /// <summary>Every role, in the order the console lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [Engineer, Support, Manager, Admin];

    /// <summary>The canonical spelling of <paramref name="role"/>, or null when it is not a role.</summary>
    public static string? Normalize(string? role)
    {
        var trimmed = role?.Trim();
        return All.FirstOrDefault(r => string.Equals(r, trimmed, StringComparison.OrdinalIgnoreCase));
    }
}
