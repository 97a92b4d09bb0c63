namespace MarketIntel.Abstractions;

/// <summary>
/// One line about an asset for the web console's assets table (<see cref="IAssetGrain.GetSummary"/>): its latest
/// accepted bar, the version its last bars were served by, that version's prediction from the latest features, and
/// whether its drift window was drifting when last evaluated. Null where the asset has none (no bars, no model, or
/// inputs not ready yet).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AssetSummary(
    [property: Id(0)] string Asset,
    [property: Id(1)] long? LatestBar,
    [property: Id(2)] PredictionResult? Prediction,
    [property: Id(3)] bool Drifting);
