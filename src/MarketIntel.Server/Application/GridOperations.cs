using MarketIntel.Abstractions;
using MarketIntel.Grains;

namespace MarketIntel.Server.Application;

/// <summary>
/// What the grid does for a request, written once for the gRPC API, the HTTP/JSON API and the host's start-up:
/// which grain answers, which calls are sent again when Orleans rejects them in passing (<see cref="GrainRetry"/>),
/// and what must follow a change (a new default model is read again on this silo at once, not after
/// <see cref="SiloModelCache.DefaultRefresh"/>). Callers pass values already checked against their wire format;
/// failures come out as <see cref="GridException"/> or as the Orleans and storage exceptions that the APIs map.
/// </summary>
internal sealed class GridOperations(IGrainFactory grains, SiloModelCache models, LocalPredictor predictor)
{
    /// <summary>Adds a batch of bars to an asset, in order.</summary>
    public Task<IngestResult> AddBars(string asset, IReadOnlyList<BarData> bars) =>
        GrainRetry.OnRejection(() => Asset(asset).AddBars(bars));

    /// <summary>Stores a ready feature vector for an asset whose model takes its inputs from outside.</summary>
    public Task PushFeatures(string asset, IReadOnlyList<float> values) =>
        GrainRetry.OnRejection(() => Asset(asset).PushFeatures(values));

    /// <summary>An asset's latest computed features.</summary>
    public Task<FeatureSnapshot> GetFeatures(string asset) =>
        GrainRetry.OnRejection(() => Asset(asset).GetFeatures());

    /// <summary>An asset's prediction with its model (or the default).</summary>
    /// <remarks>
    /// The serving hot path: the predictor's ValueTask is handed straight back (no state machine, no allocation
    /// here), and the predictor answers from the silo's snapshot where it can, retrying the grain where it cannot.
    /// </remarks>
    public ValueTask<PredictionResult> Predict(string asset) => predictor.Predict(asset);

    /// <summary>Registers a model version's bytes (validated by loading them), optionally as the new default.</summary>
    public async Task<ModelInfo> RegisterModel(ModelRef model, byte[] bytes, bool makeDefault)
    {
        ModelInfo info = await Registry.Register(model.Name, model.Version, bytes);
        if (makeDefault)
        {
            await SetDefault(model);
        }
        return info;
    }

    /// <summary>Serves a registered version for each asset from now on, optionally also as the new default.</summary>
    public async Task AssignModel(ModelRef model, IReadOnlyCollection<string> assets, bool makeDefault)
    {
        // Checked first, so an unknown version or alias fails the call before any asset changes.
        if (!model.IsAlias)
        {
            await Registry.Describe(model);
        }
        else if (!(await Registry.GetDeployment(model.Name)).Aliases.ContainsKey(model.Alias!))
        {
            throw new GridException(GridErrorKind.FailedPrecondition, $"alias '{model.Alias}' of model '{model.Name}' is not set; set it first");
        }
        await Task.WhenAll(assets.Select(a => Asset(a).AssignModel(model)));
        if (makeDefault)
        {
            await SetDefault(model);
        }
    }

    /// <summary>Makes a registered version the default for assets with no assignment; this silo serves it at once.</summary>
    public async Task SetDefault(ModelRef model)
    {
        await Registry.SetDefault(model);
        models.InvalidateDefault();
    }

    private IAssetGrain Asset(string asset) => grains.GetGrain<IAssetGrain>(asset);

    private IModelRegistryGrain Registry => grains.GetGrain<IModelRegistryGrain>(0);
}
