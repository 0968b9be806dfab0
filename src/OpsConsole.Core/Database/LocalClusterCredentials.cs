using System.Security.Cryptography;

namespace OpsConsole.Core.Database;

/// <summary>
/// The passwords of a local cluster's logins, in a pgpass file (<c>*:*:*:login:password</c> per line, so that
/// <c>PGPASSFILE=... psql</c> uses it as it is), created with mode 0600 for the OS user who runs the console.
/// A login without a password gets a random one the first time it is asked for.
/// </summary>
public sealed class LocalClusterCredentials
{
    private const string Alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    private readonly Dictionary<string, string> _passwords;
    private readonly Lock _gate = new();

    private LocalClusterCredentials(string path, Dictionary<string, string> passwords)
    {
        Path = path;
        _passwords = passwords;
    }

    /// <summary>The pgpass file.</summary>
    public string Path { get; }

    /// <summary>Reads <paramref name="path"/> when it exists; writes nothing yet.</summary>
    public static LocalClusterCredentials Open(string path)
    {
        var passwords = new Dictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(path))
        {
            foreach (var line in File.ReadAllLines(path))
            {
                var parts = line.Split(':');
                if (parts.Length == 5 && !line.StartsWith('#'))
                {
                    passwords[parts[3]] = parts[4];
                }
            }
        }

        return new LocalClusterCredentials(path, passwords);
    }

    /// <summary>The password of <paramref name="login"/>, made (and, unless <paramref name="save"/> is false, written) when missing.</summary>
    public string PasswordOf(string login, bool save = true)
    {
        lock (_gate)
        {
            if (_passwords.TryGetValue(login, out var known))
            {
                return known;
            }

            var made = RandomNumberGenerator.GetString(Alphabet, 32);
            _passwords[login] = made;
            if (save)
            {
                Save();
            }

            return made;
        }
    }

    /// <summary>Writes the file (mode 0600), replacing it atomically.</summary>
    public void Save()
    {
        lock (_gate)
        {
            var lines = _passwords.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"*:*:*:{p.Key}:{p.Value}");
            var temporary = Path + ".new";
            using (var writer = new StreamWriter(CreatePrivate(temporary)))
            {
                writer.Write("# OpsConsole's local cluster: logins and passwords (pgpass format). Keep it private.\n");
                foreach (var line in lines)
                {
                    writer.Write(line + "\n");
                }
            }

            File.Move(temporary, Path, overwrite: true);
        }
    }

    /// <summary>Creates (or truncates) <paramref name="path"/> readable and writable by its owner only.</summary>
    internal static FileStream CreatePrivate(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return new FileStream(path, FileMode.Create, FileAccess.Write);
        }

        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
        var stream = new FileStream(path, options);
        // UnixCreateMode applies to new files only; an existing file keeps its mode unless set again.
        File.SetUnixFileMode(stream.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return stream;
    }
}
