namespace MarketIntel.Training.Statistics;

/// <summary>
/// The pieces the binomial and Student t distributions share, written in the form of Loader (2000, "Fast and
/// accurate computation of binomial probabilities"): every probability is <c>exp</c> of a sum of small, accurate
/// terms (the remainder of Stirling's series and a deviance), so no term is a difference of large log-gamma
/// values. That keeps about 1e-13 relative accuracy where counts run into the millions, where summing
/// log-factorials or subtracting log-gamma values loses several digits.
/// </summary>
internal static class SpecialFunctions
{
    private const double HalfLogTwoPi = 0.91893853320467274178;   // ln(sqrt(2 pi))

    /// <summary>
    /// <c>ln Gamma(z) - ((z - 1/2) ln z - z + ln sqrt(2 pi))</c>, the remainder of Stirling's approximation, for <c>z &gt; 0</c>.
    /// </summary>
    public static double StirlingRemainder(double z)
    {
        if (z >= 15)
        {
            // The asymptotic series with Bernoulli-number coefficients B_2k / (2k (2k-1)); at z = 15 the first term
            // left out is below 1e-17.
            double r = 1 / z, r2 = r * r;
            return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 * (1.0 / 1188 - r2 * (691.0 / 360360 - r2 / 156))))));
        }
        // Below 15: shift up with Gamma(z) = Gamma(z + m) / (z (z+1) ... (z+m-1)). The terms cancel to about 1e-14,
        // absolute, which is what a remainder added inside exp() needs.
        int m = (int)Math.Ceiling(15 - z);
        double shifted = z + m;
        double product = 1;
        for (int i = 0; i < m; i++)
        {
            product *= z + i;
        }
        return StirlingRemainder(shifted) + (shifted - 0.5) * Math.Log(shifted) - m - (z - 0.5) * Math.Log(z) - Math.Log(product);
    }

    /// <summary>
    /// The deviance term <c>x ln(x / mean) + mean - x</c> (at least 0), by a series where <c>x</c> is near <paramref name="mean"/>
    /// (where the plain formula cancels), for <c>x &gt; 0</c>, <c>mean &gt; 0</c>.
    /// </summary>
    public static double Deviance(double x, double mean)
    {
        double difference = x - mean;
        if (Math.Abs(difference) < 0.1 * (x + mean))
        {
            // x ln(x/mean) + mean - x = (x - mean) v + 2x (v^3/3 + v^5/5 + ...), v = (x - mean) / (x + mean).
            double v = difference / (x + mean), v2 = v * v;
            double sum = difference * v, term = 2 * x * v;
            for (int j = 1; j < 1000; j++)
            {
                term *= v2;
                double next = sum + term / (2 * j + 1);
                if (next == sum)
                {
                    return next;
                }
                sum = next;
            }
            return sum;
        }
        return x * Math.Log(x / mean) + mean - x;
    }

    /// <summary>
    /// <c>ln(1 + x)</c> accurate for small <c>x</c> (.NET's <c>double.LogP1</c> is <c>Math.Log(x + 1)</c>, which loses the
    /// digits of <c>x</c> that <c>1 + x</c> rounds off): the rounding of <c>u = 1 + x</c> is divided out again.
    /// </summary>
    public static double LogOnePlus(double x)
    {
        double u = 1 + x;
        return u == 1 ? x : Math.Log(u) * x / (u - 1);
    }

    /// <summary>
    /// <c>x^a y^b / B(a, b)</c> with <c>y = 1 - x</c> (passed apart so that a caller who knows it exactly keeps its
    /// digits), the factor in front of the incomplete beta function's continued fraction.
    /// </summary>
    public static double BetaPowerTerms(double a, double b, double x, double y)
    {
        double n = a + b;
        double log = StirlingRemainder(n) - StirlingRemainder(a) - StirlingRemainder(b) - Deviance(a, n * x) - Deviance(b, n * y);
        return Math.Exp(log - HalfLogTwoPi) * Math.Sqrt(a * b / n);
    }

    /// <summary>
    /// The regularized incomplete beta function <c>I_x(a, b)</c> (lower) and its complement <c>1 - I_x(a, b)</c> (upper),
    /// for <c>a, b &gt; 0</c> and <c>x</c> in [0, 1] with <c>y = 1 - x</c>. The smaller-tailed side comes from the
    /// continued fraction directly and the other as its complement, so each keeps its relative accuracy.
    /// </summary>
    public static (double Lower, double Upper) IncompleteBeta(double a, double b, double x, double y)
    {
        if (!(a > 0) || !(b > 0) || double.IsInfinity(a) || double.IsInfinity(b))
        {
            throw new ArgumentOutOfRangeException(nameof(a), $"the incomplete beta function needs finite a > 0 and b > 0 (got a = {a}, b = {b})");
        }
        if (!(x >= 0) || !(y >= 0) || Math.Abs(x + y - 1) > 1e-12)
        {
            throw new ArgumentOutOfRangeException(nameof(x), $"the incomplete beta function needs 0 <= x <= 1 and y = 1 - x (got x = {x}, y = {y})");
        }
        if (x == 0)
        {
            return (0, 1);
        }
        if (y == 0)
        {
            return (1, 0);
        }
        // The continued fraction converges fast below the mean (about (a + 1) / (a + b + 2)); above it, use the
        // symmetry I_x(a, b) = 1 - I_y(b, a).
        if (x < (a + 1) / (a + b + 2))
        {
            double lower = Math.Min(1, BetaPowerTerms(a, b, x, y) / ContinuedFraction(a, b, x, y));
            return (lower, 1 - lower);
        }
        double upper = Math.Min(1, BetaPowerTerms(b, a, y, x) / ContinuedFraction(b, a, y, x));
        return (1 - upper, upper);
    }

    /// <summary>
    /// The denominator <c>beta_0 + alpha_1 / (beta_1 + alpha_2 / (beta_2 + ...))</c> of the incomplete beta function
    /// <c>I_x(a, b) = x^a y^b / (B(a, b) * fraction)</c>: the even contraction of the classical continued fraction
    /// (DLMF 8.17.22) in the form of Didonato and Morris (1992, ACM TOMS Algorithm 708), evaluated by the modified
    /// Lentz method. Its terms use <c>a y - b x + 1</c> where the classical form has <c>1 - (a + b) x / (a + 1)</c>, which
    /// cancels to a few digits when <c>x</c> is near 1 and <c>a</c> is large (Student's t with many degrees of freedom).
    /// </summary>
    private static double ContinuedFraction(double a, double b, double x, double y)
    {
        const double Tiny = 1e-300;
        const double Tolerance = 4e-16;   // two units in the last place: rounding keeps delta from reaching 1 exactly
        double f = a * (a * y - b * x + 1) / (a + 1);
        f = Math.Abs(f) < Tiny ? Tiny : f;
        double c = f, d = 0;
        // Far from the mean the fraction converges in tens of steps; near it in a few times sqrt(a + b).
        int limit = 1000 + (int)Math.Min(1e7, 20 * Math.Sqrt(a + b));
        for (int m = 1; m <= limit; m++)
        {
            double odd = a + 2 * m - 1;
            double alpha = (a + m - 1) * (a + b + m - 1) * m * (b - m) * x * x / (odd * odd);
            double beta = m + m * (b - m) * x / odd + (a + m) * (a * y - b * x + 1 + m * (2 - x)) / (a + 2 * m + 1);
            d = beta + alpha * d;
            d = 1 / (Math.Abs(d) < Tiny ? Tiny : d);
            c = beta + alpha / c;
            c = Math.Abs(c) < Tiny ? Tiny : c;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) <= Tolerance)
            {
                return f;
            }
        }
        throw new InvalidOperationException($"the incomplete beta continued fraction did not converge for a = {a}, b = {b}, x = {x}");
    }

    /// <summary>
    /// The regularized incomplete gamma functions <c>P(a, x)</c> (lower) and <c>Q(a, x) = 1 - P(a, x)</c> (upper), for
    /// <c>a &gt; 0</c> and <c>x &gt;= 0</c>. Below <c>x = a + 1</c> the lower one comes from its power series and the upper
    /// as the complement; above, the upper one from its continued fraction (modified Lentz) and the lower as the
    /// complement, so the small side keeps its relative accuracy. The common factor <c>x^a e^-x / Gamma(a)</c> is
    /// formed from the deviance and Stirling's remainder, as the binomial's terms are.
    /// </summary>
    public static (double Lower, double Upper) IncompleteGamma(double a, double x)
    {
        if (!(a > 0) || double.IsInfinity(a))
        {
            throw new ArgumentOutOfRangeException(nameof(a), $"the incomplete gamma function needs finite a > 0 (got {a})");
        }
        if (!(x >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(x), $"the incomplete gamma function needs x >= 0 (got {x})");
        }
        if (x == 0)
        {
            return (0, 1);
        }
        if (double.IsPositiveInfinity(x))
        {
            return (1, 0);
        }
        // x^a e^-x / Gamma(a) = sqrt(a) exp(-deviance(a, x) - remainder(a)) / sqrt(2 pi).
        double front = Math.Sqrt(a) * Math.Exp(-Deviance(a, x) - StirlingRemainder(a) - HalfLogTwoPi);
        const double Tolerance = 4e-16;
        if (x < a + 1)
        {
            // P(a, x) = front / a * sum over n of x^n / ((a + 1) ... (a + n)).
            double term = 1, sum = 1;
            for (int n = 1; n < 100000; n++)
            {
                term *= x / (a + n);
                sum += term;
                if (term <= sum * Tolerance)
                {
                    double lower = Math.Min(1, front / a * sum);
                    return (lower, 1 - lower);
                }
            }
            throw new InvalidOperationException($"the incomplete gamma series did not converge for a = {a}, x = {x}");
        }
        const double Tiny = 1e-300;
        // Q(a, x) = front / (x + 1 - a - 1 (1 - a) / (x + 3 - a - 2 (2 - a) / (x + 5 - a - ...))).
        double b = x + 1 - a, c = 1 / Tiny, d = 1 / b, h = d;
        for (int i = 1; i < 100000; i++)
        {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b;
            d = 1 / (Math.Abs(d) < Tiny ? Tiny : d);
            c = b + an / c;
            c = Math.Abs(c) < Tiny ? Tiny : c;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) <= Tolerance)
            {
                double upper = Math.Min(1, front * h);
                return (1 - upper, upper);
            }
        }
        throw new InvalidOperationException($"the incomplete gamma continued fraction did not converge for a = {a}, x = {x}");
    }
}
