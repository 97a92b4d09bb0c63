using System.Collections.Concurrent;
using MarketIntel.Abstractions.Models;

namespace MarketIntel.Tests;

/// <summary>
/// An <see cref="IRetrainTriggers"/> that keeps every request sent through it, for tests of the triggers: the
/// interface is the grid's own seam between a trigger and the coordinator, not a server a user runs.
/// </summary>
internal sealed class RecordingRetrainTriggers : IRetrainTriggers
{
    private readonly ConcurrentQueue<RetrainRequest> _sent = new();

    /// <summary>Every request sent so far, oldest first.</summary>
    public IReadOnlyList<RetrainRequest> Sent => [.. _sent];

    public Task Send(RetrainRequest request)
    {
        _sent.Enqueue(request);
        return Task.CompletedTask;
    }

    /// <summary>Waits until <paramref name="count"/> requests for model <paramref name="name"/> were sent; fails after <paramref name="patience"/>.</summary>
    public async Task<IReadOnlyList<RetrainRequest>> WaitFor(string name, int count, TimeSpan patience)
    {
        using var timeout = new CancellationTokenSource(patience);
        while (true)
        {
            RetrainRequest[] sent = [.. _sent.Where(r => r.Name == name)];
            if (sent.Length >= count)
            {
                return sent;
            }
            Assert.False(timeout.IsCancellationRequested, $"{sent.Length} of {count} requests for {name} were sent; all sent: {string.Join(", ", _sent.Select(r => r.Name))}");
            await Task.Delay(100);
        }
    }
}
