namespace MarketIntel.Training.Statistics;

/// <summary>
/// The chi-square distribution with <c>df</c> degrees of freedom, through the regularized incomplete gamma function:
/// <c>P(X &gt; x) = Q(df/2, x/2)</c>. The upper tail is computed directly where it is small, so p-values far below
/// 1e-16 keep their digits.
/// </summary>
public static class ChiSquare
{
    /// <summary><c>P(X &gt; x)</c>, the p-value of a chi-square statistic <paramref name="x"/>.</summary>
    public static double Survival(double x, double df)
    {
        if (!(df > 0) || double.IsInfinity(df))
        {
            throw new ArgumentOutOfRangeException(nameof(df), $"the chi-square distribution needs finite degrees of freedom above 0 (got {df})");
        }
        if (double.IsNaN(x))
        {
            throw new ArgumentOutOfRangeException(nameof(x), "the chi-square distribution of NaN");
        }
        return x <= 0 ? 1 : SpecialFunctions.IncompleteGamma(df / 2, x / 2).Upper;
    }

    /// <summary>
    /// <c>P(X &gt; x[i])</c> for many statistics of the same degrees of freedom, vectorized (the drift scan's p-values):
    /// within about <c>df 1e-16</c> relative of <see cref="Survival(double, double)"/>. A NaN statistic gives NaN.
    /// </summary>
    public static void Survival(ReadOnlySpan<double> x, double df, Span<double> destination)
    {
        if (!(df > 0) || double.IsInfinity(df))
        {
            throw new ArgumentOutOfRangeException(nameof(df), $"the chi-square distribution needs finite degrees of freedom above 0 (got {df})");
        }
        SpecialFunctions.UpperIncompleteGamma(df / 2, x, 0.5, destination);
    }
}
