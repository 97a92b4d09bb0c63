using MarketIntel.Abstractions.Models;

namespace MarketIntel.Grains.Models;

/// <summary>
/// The registry's subscribed silos and how a stored change reaches them: each silo's observer is called and awaited
/// (at most <see cref="DeliveryBound"/>), so that a moved alias serves on every silo by the time the move is
/// answered. Used from the registry grain's turns only, so it needs no lock.
/// </summary>
internal sealed class ModelEventFanOut
{
    /// <summary>How long a change waits for the silos to apply it before it is answered anyway (a silo that is slower catches up by its poll).</summary>
    public static readonly TimeSpan DeliveryBound = TimeSpan.FromSeconds(5);

    private readonly Dictionary<IModelEventObserver, DateTime> _observers = [];

    /// <summary>Subscribes an observer until <paramref name="lease"/> from now (a silo renews its lease).</summary>
    public void Subscribe(IModelEventObserver observer, TimeSpan lease)
    {
        ArgumentNullException.ThrowIfNull(observer);
        _observers[observer] = DateTime.UtcNow + lease;
    }

    /// <summary>Ends an observer's subscription.</summary>
    public void Unsubscribe(IModelEventObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        _observers.Remove(observer);
    }

    /// <summary>
    /// Tells every subscribed silo of a stored change and waits for them. A silo whose call fails is dropped until it
    /// subscribes again; one that is only slow keeps its subscription and catches up meanwhile by its poll.
    /// </summary>
    public async Task Publish(ModelAuditRecord change, ModelDeployment? deployment)
    {
        DateTime now = DateTime.UtcNow;
        foreach (IModelEventObserver lapsed in _observers.Where(o => o.Value < now).Select(o => o.Key).ToArray())
        {
            _observers.Remove(lapsed);
        }
        if (_observers.Count == 0)
        {
            return;
        }
        var message = new ModelEvent(change, deployment);
        IModelEventObserver[] observers = [.. _observers.Keys];
        Task<bool>[] calls = [.. observers.Select(o => Deliver(o, message))];
        await Task.WhenAny(Task.WhenAll(calls), Task.Delay(DeliveryBound));
        for (int i = 0; i < calls.Length; i++)
        {
            if (calls[i].IsCompleted && !calls[i].Result)
            {
                _observers.Remove(observers[i]);
            }
        }
    }

    // An observer's failure is its silo's problem (it re-subscribes once it is back): any exception means "drop it".
    private static async Task<bool> Deliver(IModelEventObserver observer, ModelEvent message)
    {
        try
        {
            await observer.OnModelEvent(message);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return false;
        }
    }
}
