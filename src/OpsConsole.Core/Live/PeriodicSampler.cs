using Microsoft.Extensions.Hosting;

namespace OpsConsole.Core.Live;

/// <summary>
/// The loop shared by the console's samplers (metrics, locks): one <see cref="SampleAsync"/> every
/// <see cref="Interval"/> on the <see cref="TimeProvider"/>, and a <see cref="Lifetime"/> token for work that is
/// shared by many callers (so no single caller's token may cancel it) and must stop with the service.
/// Register a sampler both as a singleton and as the hosted service; disposing it twice is safe.
/// </summary>
public abstract class PeriodicSampler : BackgroundService
{
    private readonly CancellationTokenSource _lifetime = new();
    private int _disposed;

    /// <summary>Creates the loop; it runs once the service is started.</summary>
    protected PeriodicSampler(TimeSpan interval, TimeProvider time)
    {
        Interval = interval;
        Time = time;
        Lifetime = _lifetime.Token;
    }

    /// <summary>How often the sampler runs.</summary>
    public TimeSpan Interval { get; }

    /// <summary>The clock every age and timer of the sampler reads.</summary>
    protected TimeProvider Time { get; }

    /// <summary>Cancelled when the service stops or is disposed.</summary>
    protected CancellationToken Lifetime { get; }

    /// <summary>One interval's work. The hosted loop calls it every interval; tests and benchmarks may call it directly.</summary>
    public abstract Task SampleAsync(CancellationToken cancellationToken);

    /// <inheritdoc />
    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, Time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await SampleAsync(stoppingToken);
        }
    }

    /// <inheritdoc />
    public sealed override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            await _lifetime.CancelAsync();
        }

        await base.StopAsync(cancellationToken);
    }

    /// <inheritdoc />
    public sealed override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _lifetime.Cancel();
        _lifetime.Dispose();
        base.Dispose();
        GC.SuppressFinalize(this);
    }
}
