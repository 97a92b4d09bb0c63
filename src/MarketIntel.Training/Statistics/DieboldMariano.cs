namespace MarketIntel.Training.Statistics;

/// <summary>How the long-run variance behind a Diebold-Mariano statistic was estimated.</summary>
public enum LongRunVariance
{
    /// <summary>Autocovariances at lags 0..h-1, rectangular window (Diebold and Mariano 1995, for h-step forecasts).</summary>
    Lags,

    /// <summary>
    /// The lag sum came out at or below 0 (the rectangular window does not guarantee a positive estimate), so the
    /// lag-0 variance alone was used, as practice since Diebold and Mariano does.
    /// </summary>
    LagZeroOnly,

    /// <summary>No test: too few observations for the horizon (n &lt;= h, or n &lt; 2) or the differences do not vary.</summary>
    None,
}

/// <summary>
/// The sums a Diebold-Mariano test needs, of loss differences <c>d_t</c> that may come from several independent series
/// (assets): their count, sum and sum of squares, and per lag <c>l</c> in 1..h-1 (index <c>l - 1</c>), within each series,
/// the sum of <c>d_t d_(t-l)</c>, of the later factors <c>d_t</c>, of the earlier factors <c>d_(t-l)</c>, and the number of products.
/// With the pooled mean <c>m</c>, the lag-<c>l</c> autocovariance is <c>(products - m (leading + trailing) + count m^2) / n</c>.
/// </summary>
public sealed class LossDifferenceSums
{
    /// <summary>Sums for horizon <c>LagProducts.Length + 1</c>; the four lag arrays must have the same length.</summary>
    public LossDifferenceSums(long count, double sum, double squareSum, double[] lagProducts, double[] lagLeading, double[] lagTrailing, long[] lagCounts)
    {
        ArgumentNullException.ThrowIfNull(lagProducts);
        ArgumentNullException.ThrowIfNull(lagLeading);
        ArgumentNullException.ThrowIfNull(lagTrailing);
        ArgumentNullException.ThrowIfNull(lagCounts);
        if (count < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"the number of loss differences {count} must not be negative");
        }
        if (lagLeading.Length != lagProducts.Length || lagTrailing.Length != lagProducts.Length || lagCounts.Length != lagProducts.Length)
        {
            throw new ArgumentException($"the lag sums have different lengths: products {lagProducts.Length}, leading {lagLeading.Length}, trailing {lagTrailing.Length}, counts {lagCounts.Length}", nameof(lagLeading));
        }
        if (!double.IsFinite(sum) || !double.IsFinite(squareSum) || squareSum < 0)
        {
            throw new ArgumentException($"the loss-difference sums must be finite and the sum of squares not negative (sum {sum}, sum of squares {squareSum})", nameof(sum));
        }
        for (int l = 0; l < lagProducts.Length; l++)
        {
            if (!double.IsFinite(lagProducts[l]) || !double.IsFinite(lagLeading[l]) || !double.IsFinite(lagTrailing[l]) || lagCounts[l] < 0 || lagCounts[l] > count)
            {
                throw new ArgumentException($"the sums at lag {l + 1} are not valid: products {lagProducts[l]}, leading {lagLeading[l]}, trailing {lagTrailing[l]}, count {lagCounts[l]} of {count} differences", nameof(lagProducts));
            }
        }
        Count = count;
        Sum = sum;
        SquareSum = squareSum;
        _lagProducts = lagProducts;
        _lagLeading = lagLeading;
        _lagTrailing = lagTrailing;
        _lagCounts = lagCounts;
    }

    private readonly double[] _lagProducts, _lagLeading, _lagTrailing;
    private readonly long[] _lagCounts;

    /// <summary>The number of differences, <c>n</c>.</summary>
    public long Count { get; }

    /// <summary>Their sum.</summary>
    public double Sum { get; }

    /// <summary>The sum of their squares.</summary>
    public double SquareSum { get; }

    /// <summary>The forecast horizon <c>h</c>: one more than the number of lags.</summary>
    public int Horizon => _lagProducts.Length + 1;

    /// <summary>The autocovariance at lag <paramref name="lag"/> (0..h-1) about <paramref name="mean"/>, divided by <c>n</c>.</summary>
    public double Autocovariance(int lag, double mean)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lag);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(lag, Horizon);
        if (lag == 0)
        {
            return Math.Max(0, SquareSum / Count - mean * mean);
        }
        int i = lag - 1;
        return (_lagProducts[i] - mean * (_lagLeading[i] + _lagTrailing[i]) + _lagCounts[i] * mean * mean) / Count;
    }
}

/// <summary>
/// The outcome of a Diebold-Mariano test. Every number is finite: where no test is possible
/// (<see cref="Variance"/> is <see cref="LongRunVariance.None"/>) the statistics are 0 and the p-values 1, and
/// <see cref="Note"/> says why.
/// </summary>
/// <param name="Count">Loss differences tested, <c>n</c>.</param>
/// <param name="Horizon">The forecast horizon <c>h</c>.</param>
/// <param name="MeanDifference">Their mean, <c>m</c>: positive where the second forecast's loss is lower.</param>
/// <param name="Variance">How the long-run variance was estimated.</param>
/// <param name="LongRunVarianceEstimate">The long-run variance of <c>d</c> used, <c>gamma_0 + 2 sum gamma_l</c> (or <c>gamma_0</c>).</param>
/// <param name="Statistic">Diebold and Mariano's <c>m / sqrt(variance / n)</c>.</param>
/// <param name="HlnStatistic">With the small-sample correction of Harvey, Leybourne and Newbold (1997).</param>
/// <param name="PValueSecondBetter">One-sided p-value against "the second forecast is better" (mean difference above 0), from t with n-1 df.</param>
/// <param name="PValueTwoSided">Two-sided p-value from t with n-1 df.</param>
/// <param name="Note">Why the lag-0 fallback was used or why no test was possible; null otherwise.</param>
public sealed record DieboldMarianoTest(long Count, int Horizon, double MeanDifference, LongRunVariance Variance, double LongRunVarianceEstimate,
    double Statistic, double HlnStatistic, double PValueSecondBetter, double PValueTwoSided, string? Note)
{
    /// <summary>
    /// Tests whether the mean loss difference <c>d = loss(first) - loss(second)</c> is 0, with the long-run variance over
    /// lags 0..h-1 (the rectangular window Diebold and Mariano 1995 give for h-step forecasts, whose errors overlap
    /// by h-1 steps) and the statistic scaled by <c>sqrt((n + 1 - 2h + h(h-1)/n) / n)</c> and compared with Student's t
    /// on n-1 degrees of freedom (Harvey, Leybourne and Newbold 1997).
    /// </summary>
    public static DieboldMarianoTest Compute(LossDifferenceSums sums)
    {
        ArgumentNullException.ThrowIfNull(sums);
        long n = sums.Count;
        int h = sums.Horizon;
        if (n < 2 || n <= h)
        {
            return Untested(sums, n == 0 ? 0 : sums.Sum / n, 0, $"{n} loss differences are too few for a test at horizon {h} (more than {Math.Max(1, h)} needed)");
        }
        double mean = sums.Sum / n;
        double gamma0 = sums.Autocovariance(0, mean);
        double variance = gamma0;
        for (int lag = 1; lag < h; lag++)
        {
            variance += 2 * sums.Autocovariance(lag, mean);
        }
        LongRunVariance used = LongRunVariance.Lags;
        string? note = null;
        // A variance that is 0 up to rounding (every difference equal) tests nothing.
        double noise = 1e-14 * (sums.SquareSum / n);
        if (gamma0 <= noise)
        {
            return Untested(sums, mean, gamma0, $"the {n} loss differences do not vary (all {mean:G6}): there is nothing to test");
        }
        if (variance <= noise)
        {
            note = $"the long-run variance over lags 0..{h - 1} came out at {variance:G6}; the lag-0 variance {gamma0:G6} is used instead";
            variance = gamma0;
            used = LongRunVariance.LagZeroOnly;
        }
        double statistic = mean / Math.Sqrt(variance / n);
        double correction = Math.Sqrt((n + 1 - 2.0 * h + h * (h - 1.0) / n) / n);
        double hln = statistic * correction;
        double df = n - 1;
        double oneSided = StudentT.Survival(hln, df);
        double twoSided = Math.Min(1, 2 * StudentT.Survival(Math.Abs(hln), df));
        return new DieboldMarianoTest(n, h, mean, used, variance, statistic, hln, oneSided, twoSided, note);
    }

    private static DieboldMarianoTest Untested(LossDifferenceSums sums, double mean, double variance, string note) =>
        new(sums.Count, sums.Horizon, mean, LongRunVariance.None, variance, 0, 0, 1, 1, note);
}
