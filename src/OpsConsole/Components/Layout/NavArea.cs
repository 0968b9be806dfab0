using MudBlazor;
using OpsConsole.Auth;

namespace OpsConsole.Components.Layout;

/// <summary>An area of the console: its page and the policies of the actions it offers.</summary>
public sealed record NavArea(string Title, string Href, string Icon, IReadOnlyList<string> ActionPolicies)
{
    public static IReadOnlyList<NavArea> All { get; } =
    [
        new("Deployments", "/deployments", Icons.Material.Filled.RocketLaunch, [OpsPolicies.SignOffDeployments, OpsPolicies.ApproveDeployments]),
        new("Purchase metrics", "/purchases", Icons.Material.Filled.ShowChart, []),
        new("Locks", "/locks", Icons.Material.Filled.Lock, [OpsPolicies.ManageBackends]),
        new("Credits", "/credits", Icons.Material.Filled.AccountBalanceWallet, [OpsPolicies.EditCredits]),
        new("Stripe", "/stripe", Icons.Material.Filled.CreditCard, [OpsPolicies.ManagePayments]),
    ];
}
