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
/// <param name="ChiSquare">Pearson's chi-square statistic of the two-sample test (live counts against reference counts, a 2 x bins table).</param>
/// <param name="DegreesOfFreedom">The test's degrees of freedom (bins compared - 1; 0 when there is nothing to test).</param>
/// <param name="PValue">The chi-square test's p-value; NaN when there is nothing to test (one bin).</param>
public readonly record struct FeatureDrift(int Count, int Missing, double Psi, double JensenShannon, double Wasserstein, double ChiSquare, int DegreesOfFreedom, double PValue)
{
    /// <summary>The statistics of a window with no live values: every statistic NaN (never a made-up number).</summary>
    public static FeatureDrift Empty(int missing) => new(0, missing, double.NaN, double.NaN, double.NaN, double.NaN, 0, double.NaN);

    /// <summary>The share of live values that were missing, or NaN when there were none at all.</summary>
    public double MissingRate => Count + Missing == 0 ? double.NaN : (double)Missing / (Count + Missing);
}

/// <summary>The drift statistics of one series' live bin counts against its reference.</summary>
/// <remarks>
/// The test is the two-sample chi-square test of homogeneity (SciPy's <c>chi2_contingency([live, reference],
/// correction=False)</c>), not a goodness-of-fit test against the reference shares as if they were exact: the shares
/// are estimates from a finite reference, and treating them as exact inflates the statistic by about
/// <c>1 + n / N</c> (n live, N reference values), which at a window of 5,000 against 20,000 reference rows raises every
/// feature's false-alarm rate several-fold (DriftAlarmTests measures it). Bins are merged with their neighbours, in
/// order, until each merged bin expects at least <see cref="MinimumExpected"/> live values. Cochran's usual 5 is not
/// enough here: alarms come from p-values near <c>alpha / features</c>, far in the tail, where Pearson's statistic over
/// bins expecting 5 to 12 values is measurably heavier than the chi-square distribution (docs/drift.md has the
/// measurements); at 20 the rate of windows with any alarm stays at alpha. A window of fewer than
/// <c>2 x MinimumExpected</c> values therefore has no test (p-value NaN), though its distances are still reported.
/// </remarks>
public static class DriftStatistics
{
    /// <summary>The share an empty bin counts as in the PSI (whose logarithm is infinite at 0), as is usual for it.</summary>
    public const double PsiFloor = 1e-4;

    /// <summary>The fewest live values a bin of the chi-square test must expect; fewer, and it is merged with the next.</summary>
    public const int MinimumExpected = 20;

    /// <summary>
    /// Compares live counts per value bin (<paramref name="live"/>, one per bin of <paramref name="reference"/>) with
    /// the reference. With no live values, or a reference of none, every statistic is NaN.
    /// </summary>
    /// <exception cref="ArgumentException">The counts do not match the reference's bins, or one is negative.</exception>
    public static FeatureDrift Compare(FeatureReference reference, ReadOnlySpan<int> live, int missing)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (live.Length != reference.Bins)
        {
            throw new ArgumentException($"{reference.Name}: {live.Length} live counts for {reference.Bins} bins");
        }
        long n = 0;
        for (int i = 0; i < live.Length; i++)
        {
            if (live[i] < 0)
            {
                throw new ArgumentException($"{reference.Name}: live count {i} is {live[i]}, below 0");
            }
            n += live[i];
        }
        ArgumentOutOfRangeException.ThrowIfNegative(missing);
        if (n == 0 || reference.Present == 0)
        {
            return FeatureDrift.Empty(missing) with { Count = (int)n };
        }
        double referenceTotal = reference.Present;
        double psi = 0, js = 0, wasserstein = 0;
        double referenceCumulative = 0, liveCumulative = 0;
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
        }
        (double chi, int df) = Homogeneity(reference.Counts, live, n, reference.Present);
        double p = df < 1 ? double.NaN : ChiSquare.Survival(chi, df);
        return new FeatureDrift((int)n, missing, psi, Math.Sqrt(Math.Max(0, js / 2)), wasserstein, chi, df, p);
    }

    /// <summary>
    /// Whether the chi-square test of <paramref name="n"/> live values against <paramref name="reference"/> uses every bin
    /// as it is: each bin expects at least <see cref="MinimumExpected"/> live values (so none is merged).
    /// </summary>
    public static bool UsesEveryBin(FeatureReference reference, long n)
    {
        ArgumentNullException.ThrowIfNull(reference);
        long smallest = long.MaxValue;
        foreach (long count in reference.Counts)
        {
            smallest = Math.Min(smallest, count);
        }
        return reference.Present > 0 && ExpectsEnough(n, smallest, reference.Present);
    }

    // n * count / total >= MinimumExpected, in whole numbers so that a bin of exactly 20 expected is not lost to rounding.
    internal static bool ExpectsEnough(long n, long count, long total) =>
        (Int128)n * count >= (Int128)MinimumExpected * total;

    /// <summary>
    /// Pearson's statistic of the 2 x k table (live, reference) over bins merged until each expects
    /// <see cref="MinimumExpected"/> live values (a short last run joins the group before it), and its degrees of freedom.
    /// Per group: <c>n N (a - e)^2 / (live + reference)</c> with <c>a</c>, <c>e</c> the group's live and reference shares,
    /// which is the sum of the table's two cells' <c>(O - E)^2 / E</c>.
    /// </summary>
    private static (double Statistic, int DegreesOfFreedom) Homogeneity(ReadOnlySpan<long> reference, ReadOnlySpan<int> live, long n, long total)
    {
        double chi = 0;
        int groups = 0;
        long previousLive = 0, previousReference = 0, groupLive = 0, groupReference = 0;
        bool hasPrevious = false;
        for (int i = 0; i < live.Length; i++)
        {
            groupLive += live[i];
            groupReference += reference[i];
            if (ExpectsEnough(n, groupReference, total))
            {
                if (hasPrevious)
                {
                    chi += Term(previousLive, previousReference, n, total);
                    groups++;
                }
                (previousLive, previousReference, hasPrevious) = (groupLive, groupReference, true);
                groupLive = groupReference = 0;
            }
        }
        previousLive += groupLive;
        previousReference += groupReference;
        if (previousLive + previousReference > 0)
        {
            chi += Term(previousLive, previousReference, n, total);
            groups++;
        }
        return groups < 2 ? (0, 0) : (chi, groups - 1);
    }

    /// <summary>One merged group's share of Pearson's statistic (the GPU drift scan's kernel calls it too).</summary>
    internal static double Term(long live, long reference, long n, long total)
    {
        double difference = live / (double)n - reference / (double)total;
        return (double)n * total * difference * difference / (live + reference);
    }
}
