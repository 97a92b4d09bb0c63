namespace MarketIntel.Features.Quality;

/// <summary>
/// What <see cref="BarQuality"/> has seen of one asset's bars: totals since the first bar and the latest findings.
/// </summary>
/// <param name="Bars">Bars observed.</param>
/// <param name="UsualIntervalMs">
/// The usual bar interval in market time (ms): the median of the latest <see cref="BarQualityOptions.IntervalWindow"/>
/// intervals; 0 until that many have been seen, and no gap is judged before.
/// </param>
/// <param name="Gaps">Intervals of market time above <see cref="BarQualityOptions.GapMultiple"/> usual intervals.</param>
/// <param name="StaleRuns">Runs of at least <see cref="BarQualityOptions.StaleBars"/> equal closes (each run counted once).</param>
/// <param name="CurrentStaleBars">Bars in the run of equal closes that ends with the latest bar when it is stale (at least <see cref="BarQualityOptions.StaleBars"/> long); 0 otherwise.</param>
/// <param name="Spikes">Spikes found (see <see cref="BarQualityOptions.SpikeReversal"/>).</param>
/// <param name="Recent">The latest findings, oldest first, at most <see cref="BarQualityOptions.RecentFindings"/>.</param>
public sealed record BarQualityReport(long Bars, double UsualIntervalMs, long Gaps, long StaleRuns,
    int CurrentStaleBars, long Spikes, IReadOnlyList<QualityFinding> Recent);

/// <summary>One data-quality finding.</summary>
/// <param name="Kind"><see cref="Gap"/>, <see cref="Stale"/> or <see cref="Spike"/>.</param>
/// <param name="AtMs">
/// The bar it is about (Unix ms): for a gap, the first bar after the missing time; for a stale price, the first bar of
/// the run; for a spike, the bar that jumped.
/// </param>
/// <param name="Detail">What was found, for people: sizes, the usual values they were measured against, and times in UTC.</param>
public sealed record QualityFinding(string Kind, long AtMs, string Detail)
{
    /// <summary>Market time without a bar above the gap multiple of the usual interval.</summary>
    public const string Gap = "gap";

    /// <summary>The same close on the stale number of bars in a row.</summary>
    public const string Stale = "stale";

    /// <summary>A log return above the spike's number of rolling standard deviations (taken back by the next bar unless that test is off).</summary>
    public const string Spike = "spike";
}
