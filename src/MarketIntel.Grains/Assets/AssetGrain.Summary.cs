using MarketIntel.Abstractions;

namespace MarketIntel.Grains.Assets;

/// <summary>The asset grain's one-line summary for the web console's assets table.</summary>
public sealed partial class AssetGrain
{
    public Task<AssetSummary> GetSummary()
    {
        // The lineup the last bars were served with: the summary reads the asset as it stands and resolves nothing,
        // so a look at the console never loads a model, binds inputs or persists a grown spec.
        PredictionResult? prediction = HasBars && _lineup is { } lineup ? TryPredict(lineup.Served, lineup.Loaded[0]) : null;
        return Task.FromResult(new AssetSummary(_asset, HasBars ? _series.LastTimestamp : null, prediction, _drift.Drifting));
    }
}
