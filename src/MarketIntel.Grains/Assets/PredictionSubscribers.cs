using MarketIntel.Abstractions;
using Microsoft.Extensions.Logging;
using Orleans.Utilities;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// An asset's subscribers to its predictions, kept by Orleans' <see cref="ObserverManager{TObserver}"/>, each on a
/// lease: a subscription lapses unless renewed within the lease its latest <see cref="Subscribe"/> gave. Sending is
/// one-way, so a slow or vanished observer never holds up ingestion; its lease lapses instead.
/// </summary>
internal sealed class PredictionSubscribers
{
    private readonly ObserverManager<IPredictionObserver> _observers;
    private DateTime _clock;
    private DateTime _lastLeaseEnd = DateTime.MinValue;  // the end of the latest-ending lease given since the set was last empty

    public PredictionSubscribers(ILogger logger)
    {
        // The manager has one expiration for all observers, a lease is per subscription. So the expiration is zero and
        // the manager's clock reads the lease's end while subscribing and now otherwise: each entry's "last seen" time
        // is then the end of its lease, and an entry lapses once that is past. Time is Environment.TickCount64, which
        // a change of the wall clock does not move.
        _observers = new ObserverManager<IPredictionObserver>(TimeSpan.Zero, logger) { GetDateTime = () => _clock };
    }

    /// <summary>Subscriptions held, lapsed ones included until <see cref="Any"/> or <see cref="Send"/> drops them.</summary>
    public int Count => _observers.Count;

    /// <summary>
    /// Adds or renews <paramref name="observer"/>'s subscription, to lapse <paramref name="lease"/> from now. Returns how
    /// long from now the latest-ending lease given so far runs (<see cref="TimeSpan.MaxValue"/>: without end).
    /// </summary>
    public TimeSpan Subscribe(IPredictionObserver observer, TimeSpan lease)
    {
        _clock = Ticks(lease);
        _observers.Subscribe(observer, observer);
        if (_clock > _lastLeaseEnd)
        {
            _lastLeaseEnd = _clock;
        }
        return _lastLeaseEnd == DateTime.MaxValue ? TimeSpan.MaxValue : _lastLeaseEnd - Ticks(TimeSpan.Zero);
    }

    /// <summary>Ends <paramref name="observer"/>'s subscription; returns whether any other remains.</summary>
    public bool Unsubscribe(IPredictionObserver observer)
    {
        _observers.Unsubscribe(observer);
        if (_observers.Count > 0)
        {
            return true;
        }
        _lastLeaseEnd = DateTime.MinValue;
        return false;
    }

    /// <summary>Drops the lapsed subscriptions; returns whether any remain.</summary>
    public bool Any()
    {
        _clock = Ticks(TimeSpan.Zero);
        _observers.ClearExpired();
        return _observers.Count > 0;
    }

    /// <summary>Sends new predictions (oldest first) to every subscription that has not lapsed.</summary>
    public void Send(IReadOnlyList<PredictionResult> predictions)
    {
        _clock = Ticks(TimeSpan.Zero);
        // OnPredictions is one-way: the call returns at once. An observer whose call fails outright is dropped.
        _observers.Notify(observer => { _ = observer.OnPredictions(predictions); });
    }

    // Now plus ahead, saturated to DateTime's range (a lease may be TimeSpan.MaxValue).
    private static DateTime Ticks(TimeSpan ahead)
    {
        long now = Environment.TickCount64 * TimeSpan.TicksPerMillisecond;
        long max = DateTime.MaxValue.Ticks;
        return new DateTime(ahead.Ticks >= max - now ? max : Math.Max(0, now + ahead.Ticks));
    }
}
