namespace MarketIntel.Training.Statistics;

/// <summary>
/// The binomial distribution <c>X ~ Binomial(n, p)</c>: probabilities, tails and the exact two-sided test, for counts
/// up to the billions (tails from the regularized incomplete beta function, never by summing terms).
/// </summary>
public static class Binomial
{
    /// <summary>
    /// The relative tolerance of the two-sided test's "as likely or less likely than the observed count" (SciPy's
    /// <c>binomtest</c> uses the same, so that equal probabilities computed with different rounding still count as equal).
    /// </summary>
    public const double TwoSidedTolerance = 1e-7;

    /// <summary><c>P(X = k)</c>.</summary>
    public static double Probability(long k, long n, double p)
    {
        Check(n, p);
        if (k < 0 || k > n)
        {
            return 0;
        }
        double q = 1 - p;
        if (k == 0)
        {
            return p == 0 ? 1 : Math.Exp(n * SpecialFunctions.LogOnePlus(-p));
        }
        if (k == n)
        {
            return q == 0 ? 1 : Math.Exp(n * Math.Log(p));
        }
        if (p == 0 || q == 0)
        {
            return 0;
        }
        // Loader's saddle-point form: exp(remainders - deviances) / sqrt(2 pi k (n-k) / n).
        double log = SpecialFunctions.StirlingRemainder(n) - SpecialFunctions.StirlingRemainder(k) - SpecialFunctions.StirlingRemainder(n - k)
                     - SpecialFunctions.Deviance(k, n * p) - SpecialFunctions.Deviance(n - k, n * q);
        return Math.Exp(log) * Math.Sqrt(n / (2 * Math.PI * k * (double)(n - k)));
    }

    /// <summary><c>P(X &lt;= k)</c>.</summary>
    public static double Cdf(long k, long n, double p) => Tails(k, n, p).AtMost;

    /// <summary><c>P(X &gt; k)</c>.</summary>
    public static double Survival(long k, long n, double p) => Tails(k, n, p).Above;

    /// <summary><c>P(X &gt;= k)</c>: the one-sided p-value of at least <paramref name="k"/> successes.</summary>
    public static double UpperTail(long k, long n, double p)
    {
        Check(n, p);
        return k <= 0 ? 1 : Survival(k - 1, n, p);
    }

    /// <summary>
    /// The exact two-sided p-value of <paramref name="k"/> successes in <paramref name="n"/> trials: the probability of
    /// every count no more likely than <paramref name="k"/> (within <see cref="TwoSidedTolerance"/>, relative), the rule
    /// of SciPy's <c>binomtest(k, n, p, alternative='two-sided')</c>. The distribution is unimodal, so those counts are
    /// <paramref name="k"/>'s own tail and a tail on the mode's other side, whose edge a binary search finds.
    /// </summary>
    public static double TwoSidedPValue(long k, long n, double p)
    {
        Check(n, p);
        if (k < 0 || k > n)
        {
            throw new ArgumentOutOfRangeException(nameof(k), $"{k} successes in {n} trials: k must be between 0 and n");
        }
        if (n == 0)
        {
            return 1;
        }
        double mean = n * p;
        if (k == mean)
        {
            return 1;
        }
        double limit = Probability(k, n, p) * (1 + TwoSidedTolerance);
        double sum;
        if (k < mean)
        {
            // Counts above the mode: the first one, searching from the mode up, whose probability is at most the limit.
            long first = FirstAtMost((long)Math.Ceiling(mean), n, x => Probability(x, n, p) <= limit, n + 1);
            sum = Cdf(k, n, p) + (first > n ? 0 : UpperTail(first, n, p));
        }
        else
        {
            // Counts below the mode: the last one, searching from 0 up, whose probability is at most the limit.
            long firstAbove = FirstAtMost(0, (long)Math.Floor(mean), x => Probability(x, n, p) > limit, (long)Math.Floor(mean) + 1);
            sum = (firstAbove == 0 ? 0 : Cdf(firstAbove - 1, n, p)) + UpperTail(k, n, p);
        }
        return Math.Min(1, sum);
    }

    /// <summary>P(X &lt;= k) and P(X &gt; k) from one evaluation of the incomplete beta function.</summary>
    private static (double AtMost, double Above) Tails(long k, long n, double p)
    {
        Check(n, p);
        if (k < 0)
        {
            return (0, 1);
        }
        if (k >= n)
        {
            return (1, 0);
        }
        // P(X > k) = I_p(k + 1, n - k).
        (double above, double atMost) = SpecialFunctions.IncompleteBeta(k + 1, n - k, p, 1 - p);
        return (atMost, above);
    }

    /// <summary>The first <c>x</c> in [from, to] where the monotone <paramref name="holds"/> turns true, or <paramref name="none"/>.</summary>
    private static long FirstAtMost(long from, long to, Func<long, bool> holds, long none)
    {
        long lo = from, hi = to, found = none;
        while (lo <= hi)
        {
            long mid = lo + (hi - lo) / 2;
            if (holds(mid))
            {
                found = mid;
                hi = mid - 1;
            }
            else
            {
                lo = mid + 1;
            }
        }
        return found;
    }

    private static void Check(long n, double p)
    {
        if (n < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(n), $"the number of trials {n} must not be negative");
        }
        if (!(p >= 0 && p <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), $"the success probability {p} must be between 0 and 1");
        }
    }
}
