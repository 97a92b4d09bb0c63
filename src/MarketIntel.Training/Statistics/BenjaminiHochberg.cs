namespace MarketIntel.Training.Statistics;

/// <summary>
/// The Benjamini-Hochberg step-up procedure: of <c>m</c> p-values, reject the <c>k</c> smallest where <c>k</c> is the
/// largest rank with <c>p(k) &lt;= k alpha / m</c>. It keeps the expected share of false rejections among rejections at
/// <c>alpha</c> (independent or positively dependent tests), and when no hypothesis is false, the chance of any
/// rejection at <c>alpha</c>: one alarm threshold whatever the number of features.
/// </summary>
public static class BenjaminiHochberg
{
    /// <summary>
    /// Sets <paramref name="rejected"/>[i] for each p-value the procedure rejects at <paramref name="alpha"/>; NaN
    /// p-values (nothing to test) are neither counted in <c>m</c> nor rejected. Returns how many were rejected.
    /// Allocates nothing while at most 256 p-values are at or below alpha.
    /// </summary>
    public static int Reject(ReadOnlySpan<double> pValues, double alpha, Span<bool> rejected)
    {
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), $"alpha must be between 0 and 1 (got {alpha})");
        }
        if (rejected.Length != pValues.Length)
        {
            throw new ArgumentException($"{pValues.Length} p-values for {rejected.Length} results");
        }
        rejected.Clear();
        // Only p-values at or below alpha can be rejected (k alpha / m <= alpha), and their ranks among all m are their
        // ranks among themselves: sort just those, usually a handful of m.
        int m = 0, candidates = 0;
        foreach (double p in pValues)
        {
            m += double.IsNaN(p) ? 0 : 1;
            candidates += p <= alpha ? 1 : 0;
        }
        Span<double> sorted = candidates <= 256 ? stackalloc double[candidates] : new double[candidates];
        candidates = 0;
        foreach (double p in pValues)
        {
            if (p <= alpha)
            {
                sorted[candidates++] = p;
            }
        }
        sorted.Sort();
        double threshold = double.NegativeInfinity;
        for (int k = candidates; k >= 1; k--)
        {
            if (sorted[k - 1] <= k * alpha / m)
            {
                threshold = sorted[k - 1];
                break;
            }
        }
        int count = 0;
        for (int i = 0; i < pValues.Length; i++)
        {
            if (pValues[i] <= threshold)
            {
                rejected[i] = true;
                count++;
            }
        }
        return count;
    }
}
