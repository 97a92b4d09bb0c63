using System.Collections.Concurrent;
using MarketIntel.Abstractions.Models;

namespace MarketIntel.Tests;

/// <summary>The requests a silo's triggers sent, in order: the tests' own <see cref="IRetrainTriggers"/>, in place of the stream.</summary>
public sealed class RecordingTriggers : IRetrainTriggers
{
    public ConcurrentQueue<RetrainRequest> Sent { get; } = new();

    public Task Send(RetrainRequest request)
    {
        Sent.Enqueue(request);
        return Task.CompletedTask;
    }
}
