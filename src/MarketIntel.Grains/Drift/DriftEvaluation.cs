using MarketIntel.Abstractions.Models;
using MarketIntel.Training.Drift;
using MarketIntel.Training.Statistics;

namespace MarketIntel.Grains.Drift;

/// <summary>
/// The one way the grid evaluates a window's counts against a reference: every series' statistics
/// (<see cref="DriftStatistics.Compare"/>), then Benjamini-Hochberg across the series of one asset at the configured
/// alpha. Asset grains evaluate their live windows with it, the cluster-wide summary the stored ones.
/// </summary>
internal static class DriftEvaluation
{
    /// <summary>One series' counts: per value bin of its reference, and how many values were missing.</summary>
    public delegate ReadOnlySpan<int> CountsOf(int series, out int missing);

    /// <summary>
    /// Compares each of <paramref name="series"/> with its counts into <paramref name="drift"/> and flags into
    /// <paramref name="drifting"/> the series Benjamini-Hochberg rejects at <paramref name="alpha"/> (none unless
    /// <paramref name="flag"/>: a window that is not full yet is described, not judged). Returns how many are flagged;
    /// allocates nothing for up to 256 series.
    /// </summary>
    public static int Evaluate(IReadOnlyList<FeatureReference> series, CountsOf counts, double alpha, bool flag, Span<FeatureDrift> drift, Span<bool> drifting)
    {
        Span<double> p = series.Count <= 256 ? stackalloc double[series.Count] : new double[series.Count];
        for (int s = 0; s < series.Count; s++)
        {
            ReadOnlySpan<int> live = counts(s, out int missing);
            drift[s] = DriftStatistics.Compare(series[s], live, missing);
            p[s] = drift[s].PValue;
        }
        if (!flag)
        {
            drifting.Clear();
            return 0;
        }
        return BenjaminiHochberg.Reject(p, alpha, drifting);
    }

    /// <summary>The statistics of every series as the grid reports them.</summary>
    public static SeriesDrift[] Describe(IReadOnlyList<FeatureReference> series, CountsOf counts, double alpha, bool flag)
    {
        var drift = new FeatureDrift[series.Count];
        var drifting = new bool[series.Count];
        Evaluate(series, counts, alpha, flag, drift, drifting);
        var described = new SeriesDrift[series.Count];
        for (int s = 0; s < described.Length; s++)
        {
            FeatureDrift d = drift[s];
            described[s] = new SeriesDrift(series[s].Name, d.Count, d.MissingRate, series[s].MissingRate, d.Psi, d.JensenShannon, d.Wasserstein,
                d.ChiSquare, d.DegreesOfFreedom, d.PValue, drifting[s]);
        }
        return described;
    }
}
