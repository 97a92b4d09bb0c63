using MarketIntel.Abstractions.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Models;

/// <summary>
/// Each silo's clock for the automatic promotion policy (a <see cref="SiloTicker"/>): once the silo is active, it asks
/// the <see cref="IAutoPromotionGrain"/> to check every <c>Grid:Promotion:CheckInterval</c>. The grain runs one check an
/// interval whichever silos ask.
/// </summary>
public sealed partial class AutoPromotionTicker(IGrainFactory grains, IOptions<PromotionGateOptions> options, ILogger<AutoPromotionTicker> log)
    : SiloTicker(options.Value.CheckInterval, TimeProvider.System)
{
    protected override async Task Tick()
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "The automatic promotion check could not run; tried again at the next interval")]
    private partial void LogTickFailed(Exception exception);
}
