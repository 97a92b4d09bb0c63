using MarketIntel.Features;

namespace MarketIntel.Abstractions.Models;

/// <summary>
/// How one version's live predictions fared against what the market then did, as sums so that tallies of many
/// assets (and of many silos) add up: a prediction made at a bar is scored when the bar <c>k</c> steps later
/// arrives (<c>k</c> and the label kind from the version's lineage).
/// For a direction model (its output: the probability that the close <c>k</c> bars later is higher) a hit is
/// <c>p &gt; 0.5</c> on a rise or <c>p &lt;= 0.5</c> otherwise, the log loss clips <c>p</c> to [1e-15, 1 - 1e-15], and Brier is
/// <c>(p - y)^2</c>; for a log-return model a hit is the sign right (a flat move counts as down, as the direction label
/// does) and the loss is the squared error.
/// </summary>
[GenerateSerializer]
public sealed record OutcomeTally
{
    /// <summary>The version scored.</summary>
    [Id(0)] public required ModelRef Model { get; init; }

    /// <summary>What its label is (from its lineage).</summary>
    [Id(1)] public required LabelKind Kind { get; init; }

    /// <summary>Bars ahead its label looks.</summary>
    [Id(2)] public required int Horizon { get; init; }

    /// <summary>Predictions scored.</summary>
    [Id(3)] public long Outcomes { get; set; }

    /// <summary>Of those, the ones that called the direction right.</summary>
    [Id(4)] public long Hits { get; set; }

    /// <summary>The sum of the log losses (direction models; 0 for return models).</summary>
    [Id(5)] public double LogLossSum { get; set; }

    /// <summary>The sum of the Brier scores (direction models; 0 for return models).</summary>
    [Id(6)] public double BrierSum { get; set; }

    /// <summary>The sum of the squared errors (return models; 0 for direction models).</summary>
    [Id(7)] public double SquaredErrorSum { get; set; }

    /// <summary>Adds another tally of the same version (another asset's, another silo's).</summary>
    public void Add(OutcomeTally other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!other.Model.Equals(Model))
        {
            throw new ArgumentException($"cannot add the tally of {other.Model} to the tally of {Model}", nameof(other));
        }
        Outcomes += other.Outcomes;
        Hits += other.Hits;
        LogLossSum += other.LogLossSum;
        BrierSum += other.BrierSum;
        SquaredErrorSum += other.SquaredErrorSum;
    }
}

/// <summary>
/// A challenger scored against the champion on the same outcomes only: every (asset, bar) where both predicted and
/// the bar <c>k</c> steps later arrived. Kept as sums that add across assets, enough for an exact McNemar test on the
/// hits and a Diebold-Mariano test on the loss differences with the overlap of <c>k</c>-bar horizons accounted for.
/// <para>
/// <c>d_t = loss(champion) - loss(challenger)</c> for the pair's <c>t</c>-th outcome of an asset, in bar order (log loss
/// for direction models, squared error for return models): positive where the challenger did better. For every
/// lag <c>l</c> in 1..k-1 (index <c>l - 1</c> of the lag arrays), over each asset's own series (never across assets,
/// whose outcomes are taken as independent):
/// <see cref="LagProducts"/> sums <c>d_t * d_(t-l)</c>, <see cref="LagLeading"/> sums the <c>d_t</c> that have a value
/// <c>l</c> before them, <see cref="LagTrailing"/> sums the <c>d_(t-l)</c> of those products, and <see cref="LagCounts"/>
/// counts the products. With the pooled mean <c>m = DifferenceSum / Pairs</c>, the lag-<c>l</c> autocovariance is
/// <c>(LagProducts - m (LagLeading + LagTrailing) + LagCounts m^2) / Pairs</c>.
/// </para>
/// </summary>
[GenerateSerializer]
public sealed record PairTally
{
    /// <summary>The version serving the outcomes.</summary>
    [Id(0)] public required ModelRef Champion { get; init; }

    /// <summary>The version predicting beside it (a shadow).</summary>
    [Id(1)] public required ModelRef Challenger { get; init; }

    /// <summary>Both versions' label kind (a pair is only formed when they agree).</summary>
    [Id(2)] public required LabelKind Kind { get; init; }

    /// <summary>Both versions' horizon <c>k</c>.</summary>
    [Id(3)] public required int Horizon { get; init; }

    /// <summary>Outcomes both versions were scored on.</summary>
    [Id(4)] public long Pairs { get; set; }

    /// <summary>Outcomes both called right.</summary>
    [Id(5)] public long BothHit { get; set; }

    /// <summary>Outcomes only the champion called right (McNemar's b).</summary>
    [Id(6)] public long ChampionOnlyHits { get; set; }

    /// <summary>Outcomes only the challenger called right (McNemar's c).</summary>
    [Id(7)] public long ChallengerOnlyHits { get; set; }

    /// <summary>The sum of the loss differences <c>d</c>.</summary>
    [Id(8)] public double DifferenceSum { get; set; }

    /// <summary>The sum of their squares.</summary>
    [Id(9)] public double DifferenceSquareSum { get; set; }

    /// <summary>Per lag 1..k-1: the sum of <c>d_t * d_(t-l)</c> within each asset.</summary>
    [Id(10)] public required double[] LagProducts { get; init; }

    /// <summary>Per lag: the sum of the later factors <c>d_t</c> of those products.</summary>
    [Id(11)] public required double[] LagLeading { get; init; }

    /// <summary>Per lag: the sum of the earlier factors <c>d_(t-l)</c> of those products.</summary>
    [Id(12)] public required double[] LagTrailing { get; init; }

    /// <summary>Per lag: how many products were summed.</summary>
    [Id(13)] public required long[] LagCounts { get; init; }

    /// <summary>An empty tally for a pair (lag arrays of length <c>horizon - 1</c>).</summary>
    public static PairTally Empty(ModelRef champion, ModelRef challenger, LabelKind kind, int horizon)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, 1);
        int lags = horizon - 1;
        return new PairTally
        {
            Champion = champion, Challenger = challenger, Kind = kind, Horizon = horizon,
            LagProducts = new double[lags], LagLeading = new double[lags], LagTrailing = new double[lags], LagCounts = new long[lags],
        };
    }

    /// <summary>Adds another tally of the same pair (another asset's, another silo's).</summary>
    public void Add(PairTally other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!other.Champion.Equals(Champion) || !other.Challenger.Equals(Challenger) || other.Horizon != Horizon || other.Kind != Kind)
        {
            throw new ArgumentException($"cannot add the tally of {other.Challenger} against {other.Champion} (k={other.Horizon}) to that of {Challenger} against {Champion} (k={Horizon})", nameof(other));
        }
        Pairs += other.Pairs;
        BothHit += other.BothHit;
        ChampionOnlyHits += other.ChampionOnlyHits;
        ChallengerOnlyHits += other.ChallengerOnlyHits;
        DifferenceSum += other.DifferenceSum;
        DifferenceSquareSum += other.DifferenceSquareSum;
        for (int l = 0; l < LagProducts.Length; l++)
        {
            LagProducts[l] += other.LagProducts[l];
            LagLeading[l] += other.LagLeading[l];
            LagTrailing[l] += other.LagTrailing[l];
            LagCounts[l] += other.LagCounts[l];
        }
    }
}

/// <summary>What the promotion gate decided about a challenger, with the statistics behind it.</summary>
[GenerateSerializer, Immutable]
public sealed record PromotionDecision
{
    /// <summary>The model name.</summary>
    [Id(0)] public required string Name { get; init; }

    /// <summary>The alias the challenger would move to (e.g. champion).</summary>
    [Id(1)] public required string Alias { get; init; }

    /// <summary>The version the alias named when the gate ran.</summary>
    [Id(2)] public required string Champion { get; init; }

    /// <summary>The version asking to replace it.</summary>
    [Id(3)] public required string Challenger { get; init; }

    /// <summary>Whether the gate passed and the alias moved.</summary>
    [Id(4)] public required bool Promoted { get; init; }

    /// <summary>Why, in a sentence a person reads (each check that failed, or that all passed).</summary>
    [Id(5)] public required string Reason { get; init; }

    /// <summary>The paired outcomes the decision rests on.</summary>
    [Id(6)] public required long Pairs { get; init; }

    /// <summary>The statistics the gate computed, by name (e.g. mcnemarP, dmStatistic, dmP, meanLossDifference).</summary>
    [Id(7)] public required IReadOnlyDictionary<string, double> Statistics { get; init; }

    /// <summary>When the gate ran, Unix ms.</summary>
    [Id(8)] public required long DecidedAt { get; init; }
}
