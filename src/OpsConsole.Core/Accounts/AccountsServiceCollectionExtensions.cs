using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OpsConsole.Core.Accounts;

/// <summary>Registration of the local accounts. Needs the <c>NpgsqlDataSource</c> of <c>AddOpsConsoleCore</c>.</summary>
public static class AccountsServiceCollectionExtensions
{
    /// <summary>Registers <see cref="AccountService"/> and <see cref="UserPreferencesStore"/>, bound to section <c>Accounts</c>.</summary>
    public static IServiceCollection AddOpsConsoleAccounts(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<AccountOptions>(configuration.GetSection(AccountOptions.SectionName));
        services.AddSingleton<IPasswordHasher<OpsAccount>, PasswordHasher<OpsAccount>>();
        services.AddSingleton<AccountService>();
        services.AddSingleton<UserPreferencesStore>();
        return services;
    }
}
