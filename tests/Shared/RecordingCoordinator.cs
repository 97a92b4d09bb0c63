using System.Collections.Concurrent;
using MarketIntel.Abstractions.Models;

namespace MarketIntel.Tests;

/// <summary>
/// Stands in for the model's retraining coordinator in the trigger stream's tests: it records each request the
/// stream's consumer passes on, with the silo it ran on, and answers that it started a job. A test may hold a
/// request (<see cref="Hold"/>) to keep its delivery open, as a silo that dies mid-delivery leaves it. The silos run
/// in the test's process, so the records are static.
/// </summary>
public sealed class RecordingCoordinatorGrain(ILocalSiloDetails silo) : Grain, IRetrainCoordinatorGrain
{
    /// <summary>Every request passed on, with the address of the silo whose coordinator took it.</summary>
    public static ConcurrentQueue<(string Silo, RetrainRequest Request)> Received { get; } = new();

    /// <summary>When set, what each request waits for before it is answered (it is recorded first).</summary>
    public static Func<RetrainRequest, Task>? Hold { get; set; }

    /// <summary>The requests for <paramref name="name"/> so far.</summary>
    public static IReadOnlyList<(string Silo, RetrainRequest Request)> For(string name) => [.. Received.Where(r => r.Request.Name == name)];

    /// <summary>Waits up to <paramref name="seconds"/> for <paramref name="count"/> requests for <paramref name="name"/> to have come.</summary>
    public static async Task<IReadOnlyList<(string Silo, RetrainRequest Request)>> WaitFor(string name, int count = 1, int seconds = 60)
    {
        for (int i = 0; i < seconds * 20; i++)
        {
            if (For(name) is { } received && received.Count >= count)
            {
                return received;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"{For(name).Count} of {count} retraining requests for {name} reached the coordinator within {seconds} s");
    }

    public async Task<RetrainStart> Request(RetrainRequest request)
    {
        Received.Enqueue((silo.SiloAddress.ToString(), request));
        if (Hold is { } hold)
        {
            await hold(request);
        }
        return new RetrainStart(true, null, "recorded");
    }

    public Task<IReadOnlyList<RetrainJob>> List(int limit) => throw new NotSupportedException("the recording coordinator keeps no jobs");

    public Task<RetrainJob> Get(string jobId) => throw new NotSupportedException("the recording coordinator keeps no jobs");

    public Task<RetrainJob> Cancel(string jobId, string client) => throw new NotSupportedException("the recording coordinator keeps no jobs");

    public Task Report(RetrainJob job) => throw new NotSupportedException("the recording coordinator keeps no jobs");
}
