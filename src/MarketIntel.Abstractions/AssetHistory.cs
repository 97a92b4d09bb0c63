namespace MarketIntel.Abstractions;

/// <summary>
/// An asset's latest bars as its grain's ring holds them (<see cref="IAssetGrain.GetHistory"/>), oldest first, in three
/// lists of one length: each bar's timestamp (Unix ms), its close, and the served version's prediction made after it,
/// NaN where the grain made none. The grain predicts after every bar only while someone subscribes to the asset, or
/// while scoring, drift tracking or the prediction log needs it; and the predictions are not kept across a
/// reactivation (or, in cluster mode, a replay of the archive): they are NaN there until new bars come.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AssetHistory(
    [property: Id(0)] string Asset,
    [property: Id(1)] IReadOnlyList<long> Timestamps,
    [property: Id(2)] IReadOnlyList<double> Closes,
    [property: Id(3)] IReadOnlyList<float> Predictions);
