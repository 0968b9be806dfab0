namespace OpsConsole.Core.Accounts;

/// <summary>
/// The minimum strength of a password the console stores: at least <see cref="AccountOptions.MinimumPasswordLength"/>
/// characters, not the user name nor containing it, and not one of the 10,000 most common passwords
/// (<c>CommonPasswords.txt</c>, embedded; its source and licence are beside it).
/// </summary>
public static class PasswordPolicy
{
    // Shorter names would refuse too much ("ab" inside a passphrase): those are only refused when equal.
    private const int ShortestNameCheckedInside = 3;

    private static readonly Lazy<HashSet<string>> Common = new(LoadCommon);

    /// <summary>Why <paramref name="password"/> is too weak for <paramref name="userName"/>, or null when it is not.</summary>
    public static string? Problem(string userName, string password, int minimumLength)
    {
        if (password.Length < minimumLength)
        {
            return $"The password needs at least {minimumLength} characters.";
        }

        var name = userName.Trim();
        if (string.Equals(password.Trim(), name, StringComparison.OrdinalIgnoreCase)
            || (name.Length >= ShortestNameCheckedInside && password.Contains(name, StringComparison.OrdinalIgnoreCase)))
        {
            return "The password must not be or contain the user name.";
        }

        if (Common.Value.Contains(password.Trim()))
        {
            return "The password is one of the 10,000 most common passwords; choose another.";
        }

        return null;
    }

    private static HashSet<string> LoadCommon()
    {
        using var stream = typeof(PasswordPolicy).Assembly.GetManifestResourceStream("OpsConsole.Core.Accounts.CommonPasswords.txt")
            ?? throw new InvalidOperationException("The embedded list of common passwords is missing.");
        using var reader = new StreamReader(stream);
        var words = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                words.Add(line);
            }
        }

        return words;
    }
}
