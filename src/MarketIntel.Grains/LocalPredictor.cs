using System.Collections.Concurrent;
using MarketIntel.Abstractions;
using MarketIntel.Grains.Assets;
using MarketIntel.Inference;

namespace MarketIntel.Grains;

/// <summary>
/// The silo's read path for predictions. An asset grain active on this silo publishes what its latest prediction
/// needs (the model inputs, the model, the time they are as of) as an immutable snapshot after it predicts, and
/// withdraws it in the same turn as any change (a bar, a pushed vector, an assignment). A request for such an
/// asset is then predicted on the caller's thread with the silo's shared model, without a message to the grain;
/// every other request (asset elsewhere in the cluster or not active, state changed since, default model changed)
/// goes to the grain, which publishes a new snapshot. Inference still runs for every request; only the hop to the
/// grain's turn is saved. A reply that follows an acknowledged change reflects it: the withdrawal happens before
/// the change is acknowledged.
/// </summary>
public sealed class LocalPredictor(IGrainFactory grains, SiloModelCache models, GridMetrics metrics)
{
    private readonly ConcurrentDictionary<string, PredictionSlot> _slots = new(StringComparer.Ordinal);

    /// <summary>How many predictions were answered from a snapshot, without a grain call.</summary>
    public long LocalHits => metrics.PredictionsLocal;

    /// <summary>The asset's prediction with its model (or the default), as <see cref="IAssetGrain.Predict"/> gives it.</summary>
    public ValueTask<PredictionResult> Predict(string asset)
    {
        if (_slots.TryGetValue(asset, out PredictionSlot? slot) && Volatile.Read(ref slot.Current) is { } snapshot && StillServed(snapshot))
        {
            return ValueTask.FromResult(Compute(asset, snapshot));
        }
        return new ValueTask<PredictionResult>(GrainRetry.OnRejection(() => grains.GetGrain<IAssetGrain>(asset).Predict()));
    }

    // Whether the snapshot's model is still the one serving the asset: its target is still the default (where it has
    // no assignment of its own), and the deployment that resolved an alias target has not changed since. Anything
    // not known at once (a read of the registry under way) goes to the grain.
    private bool StillServed(PredictionSnapshot snapshot)
    {
        if (snapshot.Assigned is null)
        {
            Task<ModelRef?> fallback = models.GetDefault();
            if (!fallback.IsCompletedSuccessfully || !snapshot.Target.Equals(fallback.Result))
            {
                return false;
            }
        }
        if (snapshot.RoutingEpoch is not { } epoch)
        {
            return true;
        }
        var deployment = models.Deployment(snapshot.Target.Name);
        return deployment.IsCompletedSuccessfully && deployment.Result.Epoch == epoch;
    }

    private PredictionResult Compute(string asset, PredictionSnapshot snapshot)
    {
        PredictionResult result = ModelRun.Predict(asset, snapshot.Model, snapshot.Loaded, snapshot.Inputs, snapshot.AsOf, metrics);
        metrics.PredictedLocally();
        return result;
    }

    internal PredictionSlot Register(string asset)
    {
        var slot = new PredictionSlot();
        _slots[asset] = slot;
        return slot;
    }

    internal void Unregister(string asset, PredictionSlot slot) =>
        _slots.TryRemove(new KeyValuePair<string, PredictionSlot>(asset, slot));
}

/// <summary>One active grain's published snapshot; null while none is valid.</summary>
internal sealed class PredictionSlot
{
    public PredictionSnapshot? Current;

    public void Withdraw() => Volatile.Write(ref Current, null);

    public void Publish(PredictionSnapshot snapshot) => Volatile.Write(ref Current, snapshot);
}

/// <summary>
/// Everything a prediction needs, frozen: <see cref="Inputs"/> is never written after publication.
/// <see cref="Assigned"/> is the asset's own assignment (null: the snapshot is for the default model as it was);
/// <see cref="Target"/> what was resolved (the assignment or the default: a version or an alias);
/// <see cref="RoutingEpoch"/> the epoch of the deployment that resolved an alias (null for a version);
/// <see cref="Model"/> the version that served.
/// </summary>
internal sealed record PredictionSnapshot(ModelRef? Assigned, ModelRef Target, long? RoutingEpoch, ModelRef Model, Model Loaded, float[] Inputs, long AsOf);
