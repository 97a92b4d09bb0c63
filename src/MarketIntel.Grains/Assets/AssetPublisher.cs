using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features.Series;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// The one place an asset's changes go out, to its three readers: the silo's local read path (the snapshot of its
/// latest prediction's inputs that <see cref="LocalPredictor"/> predicts from), the <see cref="IAssetCache"/> for
/// readers outside the grid, and the observers subscribed to its predictions.
/// The rule that keeps the local read path right: <see cref="Withdraw"/> is the first step of every change, before
/// anything changes and so before the change is acknowledged; a reply that follows an acknowledged change then
/// reflects it. What comes next hooks in here too: a shadow model or an outcome scorer would take each bar's
/// predictions in <see cref="BarsApplied"/>, drift counts the features there, each as a component of its own.
/// </summary>
internal sealed class AssetPublisher(string asset, AssetSeries series, LocalPredictor local, IAssetCache cache, ILogger observerLog)
{
    private PredictionSlot? _slot;
    private PredictionSubscribers? _subscribers;  // created with the first subscription: most assets have none

    /// <summary>Whether the cache takes the latest prediction after a change (so it is worth computing for it alone).</summary>
    public bool CacheWaiting => cache is not NoAssetCache;

    /// <summary>Whether any subscription is held (lapsed ones included until dropped).</summary>
    public bool HasSubscribers => _subscribers is { Count: > 0 };

    /// <summary>Opens the local read path for this activation.</summary>
    public void Open() => _slot = local.Register(asset);

    /// <summary>Closes the local read path as the activation goes: its requests go to the next activation.</summary>
    public void Close()
    {
        if (_slot is not null)
        {
            _slot.Withdraw();
            local.Unregister(asset, _slot);
        }
    }

    /// <summary>The first step of every change: the local read path stops answering from the last snapshot.</summary>
    public void Withdraw() => _slot?.Withdraw();

    /// <summary>Offers a prediction's inputs to the local read path; nothing may write to them afterwards.</summary>
    public void Offer(PredictionSnapshot snapshot) => _slot?.Publish(snapshot);

    /// <summary>Adds or renews a subscription; returns how long from now the latest-ending lease runs.</summary>
    public TimeSpan Subscribe(IPredictionObserver observer, TimeSpan lease) =>
        (_subscribers ??= new PredictionSubscribers(observerLog)).Subscribe(observer, lease);

    /// <summary>Ends a subscription; returns whether any other remains.</summary>
    public bool Unsubscribe(IPredictionObserver observer) => _subscribers?.Unsubscribe(observer) == true;

    /// <summary>Whether observers wait for a prediction after each change (lapsed subscriptions are dropped here).</summary>
    public bool ObserversWaiting()
    {
        if (_subscribers is null)
        {
            return false;
        }
        if (!_subscribers.Any())
        {
            _subscribers = null;
            return false;
        }
        return true;
    }

    /// <summary>
    /// Bars were applied: observers get the prediction after each (<paramref name="predictions"/>, null when none was
    /// made), the cache the features and the <paramref name="latest"/> prediction.
    /// </summary>
    public void BarsApplied(IReadOnlyList<PredictionResult>? predictions, PredictionResult? latest)
    {
        if (predictions is not null)
        {
            _subscribers?.Send(predictions);
        }
        if (CacheWaiting)
        {
            cache.Publish(Features(), latest);
        }
    }

    /// <summary>A vector was pushed: observers and the cache get the prediction from it, if one was made.</summary>
    public void Pushed(PredictionResult? prediction)
    {
        if (prediction is not null && _subscribers is not null)
        {
            _subscribers.Send([prediction]);
        }
        if (CacheWaiting)
        {
            cache.Publish(null, prediction);
        }
    }

    /// <summary>
    /// The features were rebuilt from the archive: on activation, the silo that last held the asset may have died
    /// before writing its latest values to the cache.
    /// </summary>
    public void Replayed()
    {
        if (CacheWaiting)
        {
            cache.Publish(Features(), null);
        }
    }

    /// <summary>The asset's latest features, as readers get them.</summary>
    public FeatureSnapshot Features() =>
        new(asset, series.LastTimestamp, series.ValuesSpec.Names.ToArray(), series.Values.ToArray());
}
