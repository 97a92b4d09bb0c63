using MarketIntel.Abstractions;
using MarketIntel.Features;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// The predictions an asset's <see cref="OutcomeScorer"/> was still waiting to score when its grain deactivated, with
/// what scoring them needs: the closes they are scored against and each pair's recent loss differences (for the lag
/// sums). Kept in the asset's grain state, so that the next activation scores them when their bars arrive, as if the
/// asset had never stopped; it does so only when its replayed series ends at <see cref="LastTimestamp"/>, since a bar
/// archived after it, which no scorer saw, would shift every outcome.
/// </summary>
/// <param name="LastTimestamp">The last bar the scorer saw (Unix ms).</param>
/// <param name="Bar">The scorer's index of that bar (pending slots and the closes ring are kept by bar index).</param>
/// <param name="Closes">The ring of recent closes, as the scorer held it.</param>
/// <param name="Versions">Each scored version's pending predictions.</param>
/// <param name="Pairs">Each pair's recent loss differences.</param>
[GenerateSerializer, Immutable]
public sealed record PendingOutcomes(
    [property: Id(0)] long LastTimestamp,
    [property: Id(1)] long Bar,
    [property: Id(2)] double[] Closes,
    [property: Id(3)] PendingPredictions[] Versions,
    [property: Id(4)] PendingPair[] Pairs);

/// <summary>One version's pending predictions: slot <c>b % Horizon</c> holds the one made after bar <c>b</c> (NaN: none).</summary>
/// <param name="Model">The version.</param>
/// <param name="Kind">Its label's kind.</param>
/// <param name="Horizon">Its label's horizon.</param>
/// <param name="Predictions">The ring of <paramref name="Horizon"/> pending predictions.</param>
[GenerateSerializer, Immutable]
public sealed record PendingPredictions(
    [property: Id(0)] ModelRef Model,
    [property: Id(1)] LabelKind Kind,
    [property: Id(2)] int Horizon,
    [property: Id(3)] float[] Predictions);

/// <summary>A pair's latest loss differences on this asset and how many it has had, for its lag sums.</summary>
/// <param name="Champion">The served version.</param>
/// <param name="Challenger">The shadow.</param>
/// <param name="Recent">The ring of the latest loss differences (slot <c>n % length</c> holds the <c>n</c>-th).</param>
/// <param name="Count">The pair outcomes of this asset so far.</param>
[GenerateSerializer, Immutable]
public sealed record PendingPair(
    [property: Id(0)] ModelRef Champion,
    [property: Id(1)] ModelRef Challenger,
    [property: Id(2)] double[] Recent,
    [property: Id(3)] long Count);
