using MarketIntel.Training.Statistics;

namespace MarketIntel.Training.Drift;

/// <summary>
/// How far one series' live values have moved from its reference, over the reference's value bins.
/// </summary>
/// <param name="Count">Live values with a value (the live counts' sum).</param>
/// <param name="Missing">Live values that were missing.</param>
/// <param name="Psi">Population stability index, <c>sum (a - e) ln(a / e)</c> over bin shares, each share floored at <see cref="DriftStatistics.PsiFloor"/>.</param>
/// <param name="JensenShannon">Jensen-Shannon distance, base 2 (0 = same distribution, 1 = disjoint), as SciPy's <c>jensenshannon(p, q, base=2)</c>.</param>
/// <param name="Wasserstein">Wasserstein-1 distance between the binned distributions, bins placed at their centers (<see cref="FeatureReference.Center"/>), in the series' units.</param>
/// <param name="ChiSquare">Pearson's goodness-of-fit statistic of the live counts against the reference shares.</param>
/// <param name="DegreesOfFreedom">The test's degrees of freedom (bins compared - 1).</param>
/// <param name="PValue">The chi-square test's p-value.</param>
public readonly record struct FeatureDrift(int Count, int Missing, double Psi, double JensenShannon, double Wasserstein, double ChiSquare, int DegreesOfFreedom, double PValue)
{
    /// <summary>The statistics of a window with no live values: every statistic NaN (never a made-up number).</summary>
    public static FeatureDrift Empty(int missing) => new(0, missing, double.NaN, double.NaN, double.NaN, double.NaN, 0, double.NaN);

    /// <summary>The share of live values that were missing, or NaN when there were none at all.</summary>
    public double MissingRate => Count + Missing == 0 ? double.NaN : (double)Missing / (Count + Missing);
}

/// <summary>The drift statistics of one series' live bin counts against its reference.</summary>
public static class DriftStatistics
{
    /// <summary>The share an empty bin counts as in the PSI (whose logarithm is infinite at 0), as is usual for it.</summary>
    public const double PsiFloor = 1e-4;

    /// <summary>
    /// Compares live counts per value bin (<paramref name="live"/>, one per bin of <paramref name="reference"/>) with
    /// the reference. The chi-square test leaves out bins the reference never saw while the window has none there
    /// either; a live value in a bin of reference share 0 makes the statistic infinite and the p-value 0.
    /// </summary>
    public static FeatureDrift Compare(FeatureReference reference, ReadOnlySpan<int> live, int missing)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (live.Length != reference.Bins)
        {
            throw new ArgumentException($"{reference.Name}: {live.Length} live counts for {reference.Bins} bins");
        }
        long n = 0;
        foreach (int count in live)
        {
            n += count;
        }
        if (n == 0 || reference.Present == 0)
        {
            return FeatureDrift.Empty(missing) with { Count = (int)n };
        }
        double referenceTotal = reference.Present;
        double psi = 0, js = 0, wasserstein = 0, chi = 0;
        double referenceCumulative = 0, liveCumulative = 0;
        int compared = 0;
        for (int i = 0; i < live.Length; i++)
        {
            double e = reference.Counts[i] / referenceTotal;
            double a = live[i] / (double)n;
            double ef = Math.Max(e, PsiFloor), af = Math.Max(a, PsiFloor);
            psi += (af - ef) * Math.Log(af / ef);
            double mid = (a + e) / 2;
            js += (a > 0 ? a * Math.Log2(a / mid) : 0) + (e > 0 ? e * Math.Log2(e / mid) : 0);
            if (i > 0)
            {
                // The two CDFs are flat between bin centers: W1 is the area between them.
                wasserstein += Math.Abs(referenceCumulative - liveCumulative) * (reference.Center(i) - reference.Center(i - 1));
            }
            referenceCumulative += e;
            liveCumulative += a;
            double expected = e * n;
            if (expected > 0)
            {
                double difference = live[i] - expected;
                chi += difference * difference / expected;
                compared++;
            }
            else if (live[i] > 0)
            {
                chi = double.PositiveInfinity;
                compared++;
            }
        }
        int df = compared - 1;
        double p = df < 1 ? 1 : double.IsPositiveInfinity(chi) ? 0 : ChiSquare.Survival(chi, df);
        return new FeatureDrift((int)n, missing, psi, Math.Sqrt(Math.Max(0, js / 2)), wasserstein, chi, Math.Max(df, 0), p);
    }
}
