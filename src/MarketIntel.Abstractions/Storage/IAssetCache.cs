namespace MarketIntel.Abstractions.Storage;

/// <summary>
/// A readable copy of each asset's latest features and prediction for consumers outside the grid (Redis in
/// cluster mode). Publishing never blocks or fails the grain: the cache is best effort and refills itself.
/// </summary>
public interface IAssetCache
{
    /// <summary>Hands over an asset's latest features, prediction or both (null: unchanged); returns at once.</summary>
    void Publish(FeatureSnapshot? features, PredictionResult? prediction);
}
