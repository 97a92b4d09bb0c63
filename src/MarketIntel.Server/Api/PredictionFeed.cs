using System.Collections.Concurrent;
using System.Threading.Channels;
using MarketIntel.Abstractions;

namespace MarketIntel.Server.Api;

/// <summary>
/// This silo's subscription to asset grains' predictions, shared by every StreamPredictions call on it: one
/// observer reference for the silo, one grain subscription per watched asset (renewed before its lease lapses),
/// and a fan-out to each call's channel.
/// </summary>
internal sealed partial class PredictionFeed(IGrainFactory grains, ILogger<PredictionFeed> logger) : IPredictionObserver, IHostedService, IDisposable
{
    /// <summary>How long a grain keeps sending without a renewal; renewed every third of it.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, AssetWatch> _watches = new(StringComparer.Ordinal);
    private readonly Lock _referenceLock = new();
    private IPredictionObserver? _reference;
    private Timer? _renewal;

    /// <summary>Sends every new prediction of <paramref name="assets"/> to <paramref name="sink"/> until the returned handle is disposed.</summary>
    public async Task<IAsyncDisposable> Watch(IReadOnlyCollection<string> assets, ChannelWriter<PredictionResult> sink)
    {
        IPredictionObserver reference = Reference();
        var added = new List<string>();
        try
        {
            foreach (string asset in assets.Distinct(StringComparer.Ordinal))
            {
                bool first;
                while (true)
                {
                    AssetWatch watch = _watches.GetOrAdd(asset, _ => new AssetWatch());
                    lock (watch)
                    {
                        // A watch emptied and removed meanwhile is not reused: take the dictionary's current one.
                        if (watch.Removed)
                        {
                            continue;
                        }
                        watch.Sinks.Add(sink);
                        first = watch.Sinks.Count == 1;
                    }
                    break;
                }
                added.Add(asset);
                if (first)
                {
                    await grains.GetGrain<IAssetGrain>(asset).Subscribe(reference, Lease);
                }
            }
        }
        catch
        {
            await Unwatch(added, sink);
            throw;
        }
        return new Handle(this, added, sink);
    }

    private async Task Unwatch(IEnumerable<string> assets, ChannelWriter<PredictionResult> sink)
    {
        foreach (string asset in assets)
        {
            if (!_watches.TryGetValue(asset, out AssetWatch? watch))
            {
                continue;
            }
            bool last;
            lock (watch)
            {
                watch.Sinks.Remove(sink);
                last = watch.Sinks.Count == 0;
                if (last)
                {
                    watch.Removed = true;
                    _watches.TryRemove(new KeyValuePair<string, AssetWatch>(asset, watch));
                }
            }
            if (last)
            {
                try
                {
                    IAssetGrain grain = grains.GetGrain<IAssetGrain>(asset);
                    await grain.Unsubscribe(Reference());
                    // A call that watched the asset while this unsubscribe was on its way subscribed again with the same
                    // reference, and the grain may have taken that subscribe first and this unsubscribe after it: the new
                    // stream would hear nothing until the next renewal. Once the unsubscribe is done, a watch that exists
                    // now subscribes once more; one created later subscribes after it by itself.
                    if (_watches.ContainsKey(asset))
                    {
                        await grain.Subscribe(Reference(), Lease);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The lease lapses on its own; an unsubscribe that fails only ends the stream a little later.
                    LogUnsubscribeFailed(e, asset);
                }
            }
        }
    }

    public Task OnPredictions(IReadOnlyList<PredictionResult> predictions)
    {
        if (predictions.Count > 0 && _watches.TryGetValue(predictions[0].Asset, out AssetWatch? watch))
        {
            lock (watch)
            {
                foreach (var sink in watch.Sinks)
                {
                    foreach (var prediction in predictions)
                    {
                        sink.TryWrite(prediction);
                    }
                }
            }
        }
        return Task.CompletedTask;
    }

    private IPredictionObserver Reference()
    {
        lock (_referenceLock)
        {
            return _reference ??= grains.CreateObjectReference<IPredictionObserver>(this);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        TimeSpan every = Lease / 3;
        _renewal = new Timer(_ => _ = Renew(), null, every, every);
        return Task.CompletedTask;
    }

    private async Task Renew()
    {
        foreach (string asset in _watches.Keys)
        {
            try
            {
                await grains.GetGrain<IAssetGrain>(asset).Subscribe(Reference(), Lease);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogRenewFailed(e, asset);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _renewal?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _renewal?.Dispose();
        lock (_referenceLock)
        {
            if (_reference is not null)
            {
                grains.DeleteObjectReference<IPredictionObserver>(_reference);
                _reference = null;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not unsubscribe from {Asset}")]
    private partial void LogUnsubscribeFailed(Exception exception, string asset);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not renew the prediction subscription to {Asset}")]
    private partial void LogRenewFailed(Exception exception, string asset);

    private sealed class AssetWatch
    {
        public List<ChannelWriter<PredictionResult>> Sinks { get; } = [];

        public bool Removed { get; set; }
    }

    private sealed class Handle(PredictionFeed feed, List<string> assets, ChannelWriter<PredictionResult> sink) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => new(feed.Unwatch(assets, sink));
    }
}
