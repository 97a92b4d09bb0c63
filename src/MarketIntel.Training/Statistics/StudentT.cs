namespace MarketIntel.Training.Statistics;

/// <summary>
/// Student's t distribution with <c>df</c> degrees of freedom, through the regularized incomplete beta function:
/// <c>P(T &gt; t) = I_x(df/2, 1/2) / 2</c> with <c>x = df / (df + t^2)</c> for <c>t &gt; 0</c>. Accurate to about 1e-13
/// relative in both tails (the smaller side is computed directly, never as 1 minus a number near 1).
/// </summary>
public static class StudentT
{
    /// <summary><c>P(T &lt;= t)</c>.</summary>
    public static double Cdf(double t, double df) => Survival(-t, df);

    /// <summary><c>P(T &gt; t)</c>, the one-sided p-value of a statistic <paramref name="t"/> whose large values speak against the null.</summary>
    public static double Survival(double t, double df)
    {
        if (!(df > 0) || double.IsInfinity(df))
        {
            throw new ArgumentOutOfRangeException(nameof(df), $"Student's t needs finite degrees of freedom above 0 (got {df})");
        }
        if (double.IsNaN(t))
        {
            throw new ArgumentOutOfRangeException(nameof(t), "Student's t of NaN");
        }
        double t2 = t * t, x, y;
        if (double.IsInfinity(t2))
        {
            // |t| above about 1e154: x is df / t^2 to the last digit (and may underflow to 0).
            x = df / Math.Abs(t) / Math.Abs(t);
            y = 1 - x;
        }
        else
        {
            // y is computed as its own ratio, not as 1 - x: near t = 0 it is tiny and 1 - x would keep no digits.
            x = df / (df + t2);
            y = t2 / (df + t2);
        }
        (double lower, double upper) = SpecialFunctions.IncompleteBeta(df / 2, 0.5, x, y);
        // lower = P(|T| > |t|); upper = P(|T| <= |t|).
        return t >= 0 ? lower / 2 : 0.5 + upper / 2;
    }
}
