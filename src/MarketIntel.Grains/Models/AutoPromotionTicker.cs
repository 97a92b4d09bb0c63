using MarketIntel.Abstractions.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Models;

/// <summary>
/// Each silo's clock for the automatic promotion policy: once the silo is active, it asks the
/// <see cref="IAutoPromotionGrain"/> to check every <c>Grid:Promotion:CheckInterval</c>. The grain runs one check an
/// interval whichever silos ask, so the policy needs no reminder service and goes on when the silo that held the grain
/// dies (the next silo to ask activates it elsewhere).
/// </summary>
public sealed partial class AutoPromotionTicker(IGrainFactory grains, IOptions<PromotionGateOptions> options, ILogger<AutoPromotionTicker> log)
    : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _ticks;

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(AutoPromotionTicker), ServiceLifecycleStage.Active, Start, Stop);
    }

    private Task Start(CancellationToken cancellationToken)
    {
        _ticks = Task.Run(Tick, CancellationToken.None);
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

    private async Task Tick()
    {
        using var timer = new PeriodicTimer(options.Value.CheckInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                try
                {
                    await grains.GetGrain<IAutoPromotionGrain>(0).Check();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogTickFailed(e);  // the registry or the scores were unreachable: the next tick tries again
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The automatic promotion check could not run; tried again at the next interval")]
    private partial void LogTickFailed(Exception exception);
}
