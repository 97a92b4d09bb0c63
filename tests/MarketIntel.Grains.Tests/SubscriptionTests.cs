using System.Threading.Channels;
using MarketIntel.Abstractions;
using MarketIntel.Tests;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>Subscriptions to an asset's predictions: each on its own lease, renewed by subscribing again.</summary>
[Collection(ClusterGroup.Name)]
public sealed class SubscriptionTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);

    internal static readonly float[] Vector = [0.1f, -0.2f, 0.3f, 1.5f, -1, 0, 2, 0.5f];

    private async Task<IAssetGrain> AssetWithPushedModel(string name)
    {
        var registry = fixture.Grains.GetGrain<IModelRegistryGrain>(0);
        var info = await registry.Register("lease-" + Guid.NewGuid().ToString("N"), "1", File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json")));
        var asset = fixture.Grains.GetGrain<IAssetGrain>(name + Guid.NewGuid().ToString("N"));
        await asset.AssignModel(info.Model);
        return asset;
    }

    // Every wait below is a lower bound (a lease must have ended by then), never an upper one: a loaded machine that
    // takes longer between the calls changes nothing.
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
        // Renewed before any prediction is sent (lapsed subscriptions are dropped when one is), so however late the
        // renewal comes it carries the subscription past the end of its first lease.
        await asset.Subscribe(renewedRef, Lease);
        await asset.Subscribe(renewedRef, TimeSpan.FromHours(1));
        await asset.Subscribe(lapsingRef, TimeSpan.FromHours(1));
        await asset.Subscribe(sentinelRef, TimeSpan.FromHours(1));

        await asset.PushFeatures(Vector);
        PredictionResult first = await sentinel.Next();
        string silo = await SiloOf(asset);
        Assert.Equal(first.AsOf, (await lapsing.Next()).AsOf);
        Assert.Equal(first.AsOf, (await renewed.Next()).AsOf);

        // A renewal sets the lease's end, sooner too: this one lapses, and the renewed one is past its first lease.
        await asset.Subscribe(lapsingRef, Lease);
        await Task.Delay(Lease + TimeSpan.FromSeconds(0.5));

        await asset.PushFeatures(Vector);
        PredictionResult second = await Expect(sentinel, "after the second push", asset, silo);
        Assert.Equal(second.AsOf, (await renewed.Next()).AsOf);
        await Task.Delay(200);
        Assert.Equal(0, lapsing.Count);

        await asset.Unsubscribe(renewedRef);
        await asset.PushFeatures(Vector);
        await Expect(sentinel, "after the third push", asset, silo);
        await Task.Delay(200);
        Assert.Equal(0, renewed.Count);
    }

    // A prediction that never came says where the asset was and is now and how many silos are active, so that a failure
    // on CI tells an asset moved by a lost silo from one still on its silo (a lost one-way message, or a new activation
    // in place: the silos' logs under bin/.../logs say which).
    private async Task<PredictionResult> Expect(Collector collector, string when, IAssetGrain asset, string silo)
    {
        try
        {
            return await collector.Next();
        }
        catch (OperationCanceledException e)
        {
            throw new TimeoutException(
                $"no prediction {when} within 30 s; the asset was on {silo}, is now on {await SiloOf(asset)}, and {fixture.Cluster.GetActiveSilos().Count()} silos are active", e);
        }
    }

    private async Task<string> SiloOf(IAssetGrain asset) =>
        string.Join(", ", (await fixture.Grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics())
            .Where(s => s.GrainId == asset.GetGrainId()).Select(s => s.SiloAddress.ToString()).DefaultIfEmpty("no silo"));

    internal sealed class Collector : IPredictionObserver
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

/// <summary>A one-silo cluster on embedded defaults for <see cref="SubscribedCollectionTests"/>, which collects every idle activation on it.</summary>
public sealed class CollectedCluster() : ConfiguredCluster<CollectedCluster.Configurator>(1)
{
    public sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.AddMarketIntelGrid(o => o.Features = ClusterFixture.Spec);
    }
}

/// <summary>
/// An asset's subscriptions live in its activation, so the activation is not collected while a lease runs (a new one
/// would start with none, and its subscribers would hear nothing until they renewed); once the last subscriber has
/// left it is collected as usual. The collection is forced, as an idle one in cluster mode would be, after a lease.
/// </summary>
public sealed class SubscribedCollectionTests(CollectedCluster collected) : IClassFixture<CollectedCluster>
{
    private IGrainFactory Grains => collected.Cluster.Client;

    private IManagementGrain Management => Grains.GetGrain<IManagementGrain>(0);

    [Fact]
    public async Task An_asset_is_not_collected_while_a_lease_runs_and_is_once_its_last_subscriber_left()
    {
        var registry = Grains.GetGrain<IModelRegistryGrain>(0);
        var info = await registry.Register("kept-" + Guid.NewGuid().ToString("N"), "1", File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json")));
        var asset = Grains.GetGrain<IAssetGrain>("kept" + Guid.NewGuid().ToString("N"));
        await asset.AssignModel(info.Model);
        var held = new SubscriptionTests.Collector();
        var brief = new SubscriptionTests.Collector();
        IPredictionObserver heldRef = Grains.CreateObjectReference<IPredictionObserver>(held);
        IPredictionObserver briefRef = Grains.CreateObjectReference<IPredictionObserver>(brief);
        await asset.Subscribe(heldRef, TimeSpan.FromHours(1));
        await asset.Subscribe(briefRef, TimeSpan.Zero);  // a shorter lease given later does not cut the longer one short

        await Management.ForceActivationCollection(TimeSpan.Zero);
        await asset.PushFeatures(SubscriptionTests.Vector);
        await held.Next();  // the activation that holds the subscription answered: it was not collected

        await asset.Unsubscribe(heldRef);
        await asset.Unsubscribe(briefRef);
        await Management.ForceActivationCollection(TimeSpan.Zero);
        // A collection finishes after the call that starts it returns: waited for, with a bound far beyond any machine's.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await IsActive(asset) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.False(await IsActive(asset), "the asset was still active after its last subscriber left and its activations were collected");
        GC.KeepAlive(brief);
    }

    private async Task<bool> IsActive(IAssetGrain asset) =>
        (await Management.GetDetailedGrainStatistics()).Any(s => s.GrainId == asset.GetGrainId());
}
