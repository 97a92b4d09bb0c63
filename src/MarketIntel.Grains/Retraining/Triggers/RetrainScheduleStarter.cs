using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>
/// Starts the retraining schedules when a serving silo becomes active: it checks that the settings can run (a
/// schedule needs <see cref="IRetrainTriggers"/> to send its requests through), then has every registered model name's
/// <see cref="IRetrainScheduleGrain"/> apply them, which also unregisters the reminders of schedules turned off. Until
/// the registry answers (it may be activating elsewhere) it tries again; a name registered later is started by the
/// registry.
/// </summary>
public sealed partial class RetrainScheduleStarter(
    IGrainFactory grains, IOptions<RetrainScheduleOptions> options, IServiceProvider services,
    ILogger<RetrainScheduleStarter> log)
    : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(2);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _applying;

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(RetrainScheduleStarter), ServiceLifecycleStage.Active, Start, Stop);
    }

    /// <summary>Why the settings cannot run on this silo, or null when they can.</summary>
    public static string? Unrunnable(RetrainScheduleOptions schedule, bool canSend)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        return schedule.AnyOn && !canSend
            ? $"{RetrainScheduleOptions.Section} is on, but this silo has no retraining trigger delivery (IRetrainTriggers) to send its requests through"
            : null;
    }

    private Task Start(CancellationToken cancellationToken)
    {
        if (Unrunnable(options.Value, services.GetService<IRetrainTriggers>() is not null) is { } problem)
        {
            // Thrown out of the host's start: the command line reports it in one line, as any refused setting.
            throw new GridException(GridErrorKind.FailedPrecondition, problem);
        }
        _applying = Task.Run(ApplyAll, CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task Stop(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_applying is not null)
        {
            await _applying.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task ApplyAll()
    {
        try
        {
            while (true)
            {
                try
                {
                    foreach (ModelDetails model in await grains.GetGrain<IModelRegistryGrain>(0).ListModels())
                    {
                        _stopping.Token.ThrowIfCancellationRequested();
                        await grains.GetGrain<IRetrainScheduleGrain>(model.Name).Apply();
                    }
                    return;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogApplyFailed(e, RetryDelay);
                }
                await Task.Delay(RetryDelay, _stopping.Token);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The retraining schedules could not be applied yet; tried again in {Delay}")]
    private partial void LogApplyFailed(Exception exception, TimeSpan delay);
}
