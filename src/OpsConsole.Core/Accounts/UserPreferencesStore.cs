using Dapper;
using Npgsql;

namespace OpsConsole.Core.Accounts;

/// <summary>Per-user console preferences in <c>ops.user_preferences</c>, keyed by the signed-in name.</summary>
public sealed class UserPreferencesStore(NpgsqlDataSource dataSource)
{
    /// <summary>Whether <paramref name="userName"/> chose the dark theme; false when never chosen.</summary>
    public async Task<bool> GetDarkModeAsync(string userName, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool?>(new CommandDefinition(
            GetDarkModeSql, new { UserName = userName.ToLowerInvariant() }, cancellationToken: cancellationToken)) ?? false;
    }

    /// <summary>Remembers the theme choice of <paramref name="userName"/>.</summary>
    public async Task SetDarkModeAsync(string userName, bool darkMode, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            SetDarkModeSql, new { UserName = userName.ToLowerInvariant(), DarkMode = darkMode }, cancellationToken: cancellationToken));
    }

    private const string GetDarkModeSql = "SELECT dark_mode FROM ops.user_preferences WHERE user_name = @UserName";

    private const string SetDarkModeSql = """
        INSERT INTO ops.user_preferences (user_name, dark_mode) VALUES (@UserName, @DarkMode)
        ON CONFLICT (user_name) DO UPDATE SET dark_mode = excluded.dark_mode, updated_at = now()
        """;
}
