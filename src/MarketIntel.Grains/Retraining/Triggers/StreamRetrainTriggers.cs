using MarketIntel.Abstractions.Models;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Streams;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>
/// Sends each request on the model name's stream in <see cref="RetrainTriggerStreamNames.Namespace"/>, where the name's
/// <see cref="RetrainTriggerConsumerGrain"/> hears it and asks the coordinator. The send returns once the stream
/// provider holds the request: in cluster mode once its row is in PostgreSQL, so a silo that dies afterwards (the
/// sender's or the consumer's) loses nothing.
/// </summary>
public sealed class StreamRetrainTriggers(IServiceProvider services) : IRetrainTriggers
{
    // Resolved on first use: the silo builds its stream providers after the services that name them.
    private IStreamProvider? _provider;

    public Task Send(RetrainRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrWhiteSpace(request.Name))
        {
            throw new ArgumentException($"a retraining request needs a model name (trigger {request.Trigger}, reason \"{request.Reason}\")", nameof(request));
        }
        _provider ??= services.GetRequiredKeyedService<IStreamProvider>(RetrainTriggerStreamNames.Provider);
        return _provider.GetStream<RetrainRequest>(StreamId.Create(RetrainTriggerStreamNames.Namespace, request.Name)).OnNextAsync(request);
    }
}
