using System.Runtime.CompilerServices;
using Bunit;

namespace OpsConsole.Tests.Infrastructure;

/// <summary>
/// Settings for the whole test assembly, set before any test runs. CI machines have two cores and run several test
/// classes at once, each rendering components, holding database sessions and starting Chromium; on such a machine
/// (load average 60 seen) the thread pool's slow growth starved bUnit's renderer dispatcher, and a one-second default
/// wait was shorter than one round trip. Neither is what a test asserts, so neither may fail it.
/// </summary>
internal static class TestRunSetup
{
    [ModuleInitializer]
    internal static void Configure()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 64), io);
        // For the waits that pass no deadline of their own; a condition met earlier ends the wait earlier.
        BunitContext.DefaultWaitTimeout = TimeSpan.FromSeconds(30);
    }
}
