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
    /// Allocates nothing for up to 256 p-values.
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
        Span<double> sorted = pValues.Length <= 256 ? stackalloc double[pValues.Length] : new double[pValues.Length];
        int m = 0;
        foreach (double p in pValues)
        {
            if (!double.IsNaN(p))
            {
                sorted[m++] = p;
            }
        }
        sorted = sorted[..m];
        sorted.Sort();
        double threshold = double.NegativeInfinity;
        for (int k = m; k >= 1; k--)
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
