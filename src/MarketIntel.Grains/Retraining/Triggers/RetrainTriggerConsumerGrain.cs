using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Grains.Placement;
using Microsoft.Extensions.Logging;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>The consumer of one model name's trigger stream (key: the model name); it has no calls of its own.</summary>
public interface IRetrainTriggerConsumerGrain : IGrainWithStringKey;

/// <summary>
/// Hears every request on its model name's trigger stream (an implicit subscription: the stream activates it) and
/// passes each to the name's <see cref="IRetrainCoordinatorGrain"/>, which debounces, so a request delivered twice
/// (after a silo died before confirming it) starts no second job. Lives on serving silos, beside the coordinator.
/// </summary>
[ImplicitStreamSubscription(RetrainTriggerStreamNames.Namespace)]
[ServingPlacement]
public sealed partial class RetrainTriggerConsumerGrain(ILogger<RetrainTriggerConsumerGrain> log)
    : Grain, IRetrainTriggerConsumerGrain, IStreamSubscriptionObserver, IAsyncObserver<RetrainRequest>
{
    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory)
    {
        ArgumentNullException.ThrowIfNull(handleFactory);
        return handleFactory.Create<RetrainRequest>().ResumeAsync(this);
    }

    // Returns once the coordinator has the request, so the stream confirms (and in cluster mode deletes) it only then.
    // A refusal that a second try cannot change (no such model, a bad override) ends here with a log line; anything
    // else (the coordinator's silo died, its store is down) throws, and the stream delivers the request again.
    public async Task OnNextAsync(RetrainRequest item, StreamSequenceToken? token = null)
    {
        ArgumentNullException.ThrowIfNull(item);
        try
        {
            RetrainStart start = await GrainFactory.GetGrain<IRetrainCoordinatorGrain>(item.Name).Request(item);
            LogPassed(item.Name, item.Trigger, item.Reason, start.Started, start.Reason);
        }
        catch (GridException e) when (e.Kind is GridErrorKind.NotFound or GridErrorKind.InvalidArgument or GridErrorKind.FailedPrecondition)
        {
            LogRefused(item.Name, item.Trigger, item.Reason, e);
        }
    }

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex)
    {
        LogStreamError(this.GetPrimaryKeyString(), ex);
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Name}: {Trigger} retraining request ({Reason}) passed to the coordinator: started {Started} ({Answer})")]
    private partial void LogPassed(string name, RetrainTrigger trigger, string reason, bool started, string answer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Name}: the coordinator refused the {Trigger} retraining request ({Reason}); it is not sent again")]
    private partial void LogRefused(string name, RetrainTrigger trigger, string reason, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Name}: the retraining trigger stream reported an error")]
    private partial void LogStreamError(string name, Exception exception);
}
