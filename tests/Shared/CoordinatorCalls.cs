using System.Collections.Concurrent;
using MarketIntel.Abstractions.Models;

namespace MarketIntel.Tests;

/// <summary>
/// Watches, in the trigger stream's tests, the requests that reach a model's retraining coordinator: an incoming call
/// filter that records each <see cref="IRetrainCoordinatorGrain.Request"/> with the silo it reached before the
/// coordinator runs it. A test may hold a request there (<see cref="Hold"/>) to keep its delivery open, as a silo that
/// dies mid-delivery leaves it. The silos run in the test's process, so the records are static.
/// </summary>
public sealed class CoordinatorCalls(ILocalSiloDetails silo) : IIncomingGrainCallFilter
{
    /// <summary>Every request that reached a coordinator, with the address of its silo.</summary>
    public static ConcurrentQueue<(string Silo, RetrainRequest Request)> Received { get; } = new();

    /// <summary>When set, what each request waits for before the coordinator runs it (it is recorded first).</summary>
    public static Func<RetrainRequest, Task>? Hold { get; set; }

    /// <summary>The requests for <paramref name="name"/> so far.</summary>
    public static IReadOnlyList<(string Silo, RetrainRequest Request)> For(string name) => [.. Received.Where(r => r.Request.Name == name)];

    /// <summary>Waits up to <paramref name="seconds"/> until <paramref name="done"/> holds for the requests for <paramref name="name"/>.</summary>
    public static async Task<IReadOnlyList<(string Silo, RetrainRequest Request)>> WaitFor(string name, Func<IReadOnlyList<(string Silo, RetrainRequest Request)>, bool>? done = null, int seconds = 60)
    {
        done ??= received => received.Count > 0;
        for (int i = 0; i < seconds * 20; i++)
        {
            if (For(name) is { } received && done(received))
            {
                return received;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"the retraining requests for {name} that reached a coordinator within {seconds} s were not those expected: {For(name).Count} came");
    }

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.InterfaceMethod?.Name == nameof(IRetrainCoordinatorGrain.Request) && context.Request.GetArgumentCount() == 1
            && context.Request.GetArgument(0) is RetrainRequest request)
        {
            Received.Enqueue((silo.SiloAddress.ToString(), request));
            if (Hold is { } hold)
            {
                await hold(request);
            }
        }
        await context.Invoke();
    }
}
