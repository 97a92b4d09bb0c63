using System.Threading.Channels;
using MarketIntel.Abstractions;
using MarketIntel.Tests;

namespace MarketIntel.Grains.Tests;

/// <summary>Subscriptions to an asset's predictions: each on its own lease, renewed by subscribing again.</summary>
[Collection(ClusterGroup.Name)]
public sealed class SubscriptionTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);

    private static readonly float[] Vector = [0.1f, -0.2f, 0.3f, 1.5f, -1, 0, 2, 0.5f];

    private async Task<IAssetGrain> AssetWithPushedModel(string name)
    {
        var registry = fixture.Grains.GetGrain<IModelRegistryGrain>(0);
        var info = await registry.Register("lease-" + Guid.NewGuid().ToString("N"), "1", File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json")));
        var asset = fixture.Grains.GetGrain<IAssetGrain>(name + Guid.NewGuid().ToString("N"));
        await asset.AssignModel(info.Model);
        return asset;
    }

    [Fact]
    public async Task A_subscription_lapses_unless_renewed_within_its_lease_and_ends_when_unsubscribed()
    {
        var asset = await AssetWithPushedModel("lease");
        var lapsing = new Collector();
        var renewed = new Collector();
        var sentinel = new Collector();  // on a long lease: once it has a prediction, the others have had theirs
        IPredictionObserver lapsingRef = fixture.Grains.CreateObjectReference<IPredictionObserver>(lapsing);
        IPredictionObserver renewedRef = fixture.Grains.CreateObjectReference<IPredictionObserver>(renewed);
        IPredictionObserver sentinelRef = fixture.Grains.CreateObjectReference<IPredictionObserver>(sentinel);
        await asset.Subscribe(lapsingRef, Lease);
        await asset.Subscribe(renewedRef, Lease);
        await asset.Subscribe(sentinelRef, TimeSpan.FromHours(1));

        await asset.PushFeatures(Vector);
        PredictionResult first = await sentinel.Next();
        Assert.Equal(first.AsOf, (await lapsing.Next()).AsOf);
        Assert.Equal(first.AsOf, (await renewed.Next()).AsOf);

        await Task.Delay(Lease / 2);
        await asset.Subscribe(renewedRef, Lease);
        await Task.Delay(Lease / 2 + TimeSpan.FromSeconds(0.5));  // past the first lease, within the renewed one

        await asset.PushFeatures(Vector);
        PredictionResult second = await sentinel.Next();
        Assert.Equal(second.AsOf, (await renewed.Next()).AsOf);
        await Task.Delay(200);
        Assert.Equal(0, lapsing.Count);

        await asset.Unsubscribe(renewedRef);
        await asset.PushFeatures(Vector);
        await sentinel.Next();
        await Task.Delay(200);
        Assert.Equal(0, renewed.Count);
    }

    private sealed class Collector : IPredictionObserver
    {
        private readonly Channel<PredictionResult> _received = Channel.CreateUnbounded<PredictionResult>();

        public int Count => _received.Reader.Count;

        public Task OnPredictions(IReadOnlyList<PredictionResult> predictions)
        {
            foreach (PredictionResult prediction in predictions)
            {
                _received.Writer.TryWrite(prediction);
            }
            return Task.CompletedTask;
        }

        public async Task<PredictionResult> Next()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            return await _received.Reader.ReadAsync(timeout.Token);
        }
    }
}
