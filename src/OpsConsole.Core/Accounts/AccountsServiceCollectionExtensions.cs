using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OpsConsole.Core.Accounts;

/// <summary>Registration of the local accounts. Needs the <c>NpgsqlDataSource</c> of <c>AddOpsConsoleCore</c>.</summary>
public static class AccountsServiceCollectionExtensions
{
    /// <summary>Registers <see cref="AccountService"/>, <see cref="UserPreferencesStore"/>, the sign-in <see cref="SessionStore"/> and the key ring's <see cref="PostgresXmlRepository"/>, with section <c>Accounts</c> validated at start.</summary>
    public static IServiceCollection AddOpsConsoleAccounts(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AccountOptions>().Bind(configuration.GetSection(AccountOptions.Section))
            .Validate(o => o.MaxFailedAttempts >= 1, "Accounts:MaxFailedAttempts must be 1 or more.")
            .Validate(o => o.LockoutDuration > TimeSpan.Zero, "Accounts:LockoutDuration must be positive.")
            .Validate(o => o.RevalidationInterval >= TimeSpan.Zero, "Accounts:RevalidationInterval must not be negative (0 checks at every request).")
            .Validate(o => o.MaxSessionLifetime > TimeSpan.Zero, "Accounts:MaxSessionLifetime must be positive.")
            .Validate(o => o.MinimumPasswordLength >= 1, "Accounts:MinimumPasswordLength must be 1 or more.")
            .Validate(o => o.SignInAttemptsPerMinute >= 1, "Accounts:SignInAttemptsPerMinute must be 1 or more.")
            .ValidateOnStart();
        services.AddSingleton<IPasswordHasher<OpsAccount>, PasswordHasher<OpsAccount>>();
        services.AddSingleton<AccountService>();
        services.AddSingleton<PostgresXmlRepository>();
        services.AddSingleton<UserPreferencesStore>();
        services.AddSingleton<SessionStore>();
        return services;
    }
}
