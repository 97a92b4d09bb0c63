using MarketIntel.Abstractions.Hosting;
using MarketIntel.Abstractions.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using Orleans.Streams;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>Adds the retraining trigger stream and the drift trigger's settings to a silo.</summary>
public static class RetrainTriggerHosting
{
    /// <summary>
    /// Registers <see cref="StreamRetrainTriggers"/> as the silo's <see cref="IRetrainTriggers"/> (unless one was
    /// registered before), the <see cref="DriftTriggerOptions"/> (checked at start; <paramref name="configureOptions"/>
    /// binds or sets them) and, unless a provider named <see cref="RetrainTriggerStreamNames.Provider"/> was registered
    /// before (cluster mode's, in PostgreSQL), memory streams under that name: the embedded defaults, where a request
    /// lives as long as the process.
    /// </summary>
    public static ISiloBuilder AddRetrainTriggerStream(this ISiloBuilder silo, Action<OptionsBuilder<DriftTriggerOptions>>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddCheckedOptions(new DriftTriggerOptionsValidator(), configureOptions);
        silo.Services.TryAddSingleton<IRetrainTriggers, StreamRetrainTriggers>();
        if (!silo.Services.Any(d => d.IsKeyedService && d.ServiceType == typeof(IStreamProvider) && Equals(d.ServiceKey, RetrainTriggerStreamNames.Provider)))
        {
            silo.AddMemoryStreams(RetrainTriggerStreamNames.Provider, stream =>
            {
                // Only the implicit subscription consumes it: no pub-sub store to keep. A handful of requests an hour
                // need no more than one queue.
                stream.ConfigureStreamPubSub(StreamPubSubType.ImplicitOnly);
                stream.ConfigurePartitioning(1);
            });
        }
        return silo;
    }
}
