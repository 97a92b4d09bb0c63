namespace MarketIntel.Grains;

/// <summary>
/// A silo's clock for work one grain does for the whole cluster once an interval (the automatic promotion policy, the
/// retraining watch): once the silo is active it calls <see cref="Tick"/> every interval until the silo stops. Every
/// silo ticks and the grain runs once an interval whichever asks, so the work needs no reminder service and goes on
/// when the silo holding the grain dies: the next tick activates it elsewhere.
/// </summary>
public abstract class SiloTicker(TimeSpan interval, TimeProvider time) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _ticks;

    /// <summary>How often <see cref="Tick"/> runs.</summary>
    protected TimeSpan Interval => interval;

    /// <summary>The clock the ticks follow.</summary>
    protected TimeProvider Time => time;

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(GetType().Name, ServiceLifecycleStage.Active, Start, Stop);
    }

    /// <summary>One interval's ask. It handles its own failures (the next interval tries again); what it throws ends the ticks.</summary>
    protected abstract Task Tick();

    private Task Start(CancellationToken cancellationToken)
    {
        _ticks = Task.Run(Run, CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task Stop(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_ticks is not null)
        {
            await _ticks.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task Run()
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                await Tick();
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the stop signal.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stopping.Dispose();
        }
    }
}
