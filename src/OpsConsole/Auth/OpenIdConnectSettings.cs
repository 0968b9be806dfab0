namespace OpsConsole.Auth;

/// <summary>Configuration section <c>Authentication:OpenIdConnect</c>; sign-in with OIDC is on when Authority is set.</summary>
public sealed class OpenIdConnectSettings
{
    public const string Section = "Authentication:OpenIdConnect";

    public string? Authority { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }
    public string DisplayName { get; set; } = "single sign-on";

    /// <summary>The claim of the ID token whose values are console roles (engineer, support, manager, admin).</summary>
    public string RoleClaim { get; set; } = "roles";

    /// <summary>The claim that names the user.</summary>
    public string NameClaim { get; set; } = "preferred_username";

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Authority);
}
