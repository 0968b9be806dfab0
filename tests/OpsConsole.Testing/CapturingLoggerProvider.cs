using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit;

namespace OpsConsole.Testing;

/// <summary>Keeps every log message, so a test can wait for the moment something was logged.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _messages = new();
    private readonly SemaphoreSlim _logged = new(0);

    public IReadOnlyCollection<string> Messages => _messages;

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    /// <summary>Waits until a message matching <paramref name="match"/> is logged; fails after <paramref name="timeout"/>.</summary>
    public async Task WaitForAsync(Func<string, bool> match, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (!_messages.Any(match))
        {
            try
            {
                await _logged.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"No matching log message within {timeout}. Logged:\n{string.Join('\n', _messages)}");
            }
        }
    }

    public void Dispose() => _logged.Dispose();

    private sealed class Logger(CapturingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            owner._messages.Enqueue(formatter(state, exception));
            owner._logged.Release();
        }
    }
}
