using System.Text;

namespace OpsConsole.Cli;

/// <summary>Reads a password: the first line of piped input, or typed at a terminal without echo.</summary>
internal static class PasswordReader
{
    public static async Task<string?> ReadAsync(TextReader input, TextWriter output, CancellationToken cancellationToken)
    {
        if (!ReferenceEquals(input, Console.In) || Console.IsInputRedirected)
        {
            return (await input.ReadLineAsync(cancellationToken))?.TrimEnd('\r');
        }

        await output.WriteAsync("Password: ");
        var password = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                await output.WriteLineAsync();
                return password.ToString();
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (password.Length > 0)
                {
                    password.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                password.Append(key.KeyChar);
            }
        }
    }
}
