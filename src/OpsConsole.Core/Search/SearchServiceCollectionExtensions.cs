using Microsoft.Extensions.DependencyInjection;

namespace OpsConsole.Core.Search;

/// <summary>Registration of the search box's resolver and the kinds it finds.</summary>
public static class SearchServiceCollectionExtensions
{
    /// <summary>
    /// Registers the resolver and the console's first kinds. A later feature registers its own kind in its own
    /// <c>AddOpsConsole&lt;Feature&gt;</c> (<c>services.AddSingleton&lt;ISearchKind, TheKind&gt;()</c>); nothing here changes.
    /// </summary>
    public static IServiceCollection AddOpsConsoleSearch(this IServiceCollection services)
    {
        services.AddSingleton<ISearchKind, PurchaseSearchKind>();
        services.AddSingleton<ISearchKind, LeadSearchKind>();
        services.AddSingleton<ISearchKind, WorkspaceSearchKind>();
        services.AddSingleton<ISearchKind, StripeEventSearchKind>();
        services.AddSingleton<ISearchKind, PaymentIntentSearchKind>();
        services.AddSingleton<ISearchKind, BackendSearchKind>();
        services.AddSingleton<SearchResolver>();
        services.AddSingleton<ObjectDetails>();
        return services;
    }
}
