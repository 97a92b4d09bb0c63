using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>
/// Each silo's clock for the retraining watch (a <see cref="SiloTicker"/>): once the silo is active, every
/// <c>Grid:Retraining:Triggers:ScanEvery</c> it asks the <see cref="IRetrainWatchGrain"/> to check the current interval
/// (named by its start: the Unix time rounded down to a multiple of the interval, the same on every silo), which the
/// grain runs once. With no worker silo in the cluster the ask fails at once; that is logged once, not every interval,
/// until a check runs again.
/// </summary>
public sealed partial class RetrainWatchTicker(IGrainFactory grains, IOptions<RetrainTriggerOptions> options, TimeProvider time, ILogger<RetrainWatchTicker> log)
    : SiloTicker(options.Value.ScanEvery, time)
{
    private bool _waitingForWorker;

    protected override Task Tick()
    {
        long every = (long)Interval.TotalMilliseconds;
        long now = Time.GetUtcNow().ToUnixTimeMilliseconds();
        return Ask(now - (now % every));
    }

    /// <summary>
    /// Asks the watch to check the interval that starts at <paramref name="interval"/> (Unix ms): its report, or null
    /// when that interval ran already, no worker is there to run it, or it failed (logged). Never throws but for cancellation.
    /// </summary>
    public async Task<RetrainWatchReport?> Ask(long interval)
    {
        try
        {
            RetrainWatchReport? report = await grains.GetGrain<IRetrainWatchGrain>(0).Check(interval);
            _waitingForWorker = false;
            return report;
        }
        catch (GridException e) when (e.Kind == GridErrorKind.Unavailable && e.Message.StartsWith(NoWorker, StringComparison.Ordinal))
        {
            if (!_waitingForWorker)
            {
                _waitingForWorker = true;
                LogNoWorker(e.Message);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogTickFailed(e);  // the stores or the registry were unreachable: the next interval tries again
        }
        return null;
    }

    // How the role placement refuses a worker grain with no worker in the cluster (Placement/RolePlacementDirector).
    private const string NoWorker = "no worker silo in the cluster";

    [LoggerMessage(Level = LogLevel.Information, Message = "The retraining watch waits for a worker silo; the drift scan, score decay and bar volume checks are skipped until one joins ({Detail})")]
    private partial void LogNoWorker(string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The retraining watch's check could not run; tried again at the next interval")]
    private partial void LogTickFailed(Exception exception);
}

/// <summary>Registers the retraining triggers in a silo.</summary>
public static class RetrainTriggersHosting
{
    /// <summary>
    /// The triggers' options (checked at start by <see cref="RetrainTriggerOptionsValidator"/>; a host binds section
    /// <see cref="RetrainTriggerOptions.Section"/> with <paramref name="configureOptions"/>) and the silo's
    /// <see cref="RetrainWatchTicker"/>. The watch sends through the silo's <see cref="IRetrainTriggers"/>.
    /// </summary>
    public static IServiceCollection AddMarketIntelRetrainTriggers(this IServiceCollection services, Action<OptionsBuilder<RetrainTriggerOptions>>? configureOptions = null)
    {
        services.AddCheckedOptions(new RetrainTriggerOptionsValidator(), configureOptions);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILifecycleParticipant<ISiloLifecycle>, RetrainWatchTicker>());
        return services;
    }
}
