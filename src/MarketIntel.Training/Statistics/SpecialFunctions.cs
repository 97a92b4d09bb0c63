using System.Runtime.Intrinsics;

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

    /// <summary>
    /// <c>Q(a, scale x[i])</c> for many <c>x</c> at one <c>a</c>, four at a time (the drift scan's p-values): the same
    /// power series and continued fraction as <see cref="IncompleteGamma"/>, each lane stopping where the scalar loop
    /// would. Inputs are first sorted into the two methods' lanes, so that a vector runs one loop. The front factor is
    /// <c>exp(-(a ln(a / y) + y - a))</c> from vectorized logarithm and exponential rather than the deviance series, which
    /// costs relative accuracy of about <c>a 1e-16</c> (1e-14 at a = 150). A NaN gives NaN; 0 and below give 1.
    /// </summary>
    public static void UpperIncompleteGamma(double a, ReadOnlySpan<double> x, double scale, Span<double> q)
    {
        if (!(a > 0) || double.IsInfinity(a))
        {
            throw new ArgumentOutOfRangeException(nameof(a), $"the incomplete gamma function needs finite a > 0 (got {a})");
        }
        if (q.Length != x.Length)
        {
            throw new ArgumentException($"{x.Length} arguments for {q.Length} results");
        }
        if (!Vector256.IsHardwareAccelerated)
        {
            for (int i = 0; i < x.Length; i++)
            {
                double y = x[i] * scale;
                q[i] = double.IsNaN(y) ? double.NaN : y <= 0 ? 1 : IncompleteGamma(a, y).Upper;
            }
            return;
        }
        const int Block = 256;
        Span<double> series = stackalloc double[Block + 4];
        Span<double> fraction = stackalloc double[Block + 4];
        Span<int> seriesAt = stackalloc int[Block];
        Span<int> fractionAt = stackalloc int[Block];
        double front = -StirlingRemainder(a) - HalfLogTwoPi;
        for (int start = 0; start < x.Length; start += Block)
        {
            int length = Math.Min(Block, x.Length - start);
            int inSeries = 0, inFraction = 0;
            for (int i = 0; i < length; i++)
            {
                double y = x[start + i] * scale;
                if (double.IsNaN(y) || y <= 0 || double.IsPositiveInfinity(y))
                {
                    q[start + i] = double.IsNaN(y) ? double.NaN : y <= 0 ? 1 : 0;
                }
                else if (y < a + 1)
                {
                    seriesAt[inSeries] = start + i;
                    series[inSeries++] = y;
                }
                else
                {
                    fractionAt[inFraction] = start + i;
                    fraction[inFraction++] = y;
                }
            }
            // Pad to whole vectors with arguments each loop finishes at once; their results are not kept.
            series[inSeries..(inSeries + 4)].Fill(Math.Min(a, 1) / 64);
            fraction[inFraction..(inFraction + 4)].Fill(a + 1 + 1e6);
            for (int i = 0; i < inSeries; i += 4)
            {
                Vector256<double> upper = SeriesUpper(a, front, Vector256.Create<double>(series[i..]));
                for (int lane = 0; lane < 4 && i + lane < inSeries; lane++)
                {
                    q[seriesAt[i + lane]] = upper[lane];
                }
            }
            for (int i = 0; i < inFraction; i += 4)
            {
                Vector256<double> upper = FractionUpper(a, front, Vector256.Create<double>(fraction[i..]));
                for (int lane = 0; lane < 4 && i + lane < inFraction; lane++)
                {
                    q[fractionAt[i + lane]] = upper[lane];
                }
            }
        }
    }

    // y^a e^-y / Gamma(a), through ln Gamma(a) = (a - 1/2) ln a - a + ln sqrt(2 pi) + remainder(a).
    private static Vector256<double> Front(double a, double front, Vector256<double> y) =>
        Math.Sqrt(a) * Vector256.Exp(Vector256.Create(front) - (a * (Vector256.Create(Math.Log(a)) - Vector256.Log(y)) + y - Vector256.Create(a)));

    private static Vector256<double> SeriesUpper(double a, double front, Vector256<double> y)
    {
        const double Tolerance = 4e-16;
        Vector256<double> term = Vector256<double>.One, sum = Vector256<double>.One;
        Vector256<double> active = Vector256<double>.AllBitsSet;
        for (int n = 1; n < 100000; n++)
        {
            term = term * y * (1 / (a + n));
            sum = Vector256.ConditionalSelect(active, sum + term, sum);
            active &= Vector256.GreaterThan(term, sum * Tolerance);
            if (active == Vector256<double>.Zero)
            {
                Vector256<double> lower = Vector256.Min(Vector256<double>.One, Front(a, front, y) / a * sum);
                return Vector256<double>.One - lower;
            }
        }
        throw new InvalidOperationException($"the incomplete gamma series did not converge for a = {a}, x = {y}");
    }

    private static Vector256<double> FractionUpper(double a, double front, Vector256<double> y)
    {
        const double Tolerance = 4e-16;
        Vector256<double> tiny = Vector256.Create(1e-300);
        Vector256<double> b = y + Vector256.Create(1 - a), c = Vector256.Create(1e300), d = Vector256<double>.One / b, h = d;
        Vector256<double> active = Vector256<double>.AllBitsSet;
        for (int i = 1; i < 100000; i++)
        {
            Vector256<double> an = Vector256.Create(-i * (i - a));
            b += Vector256.Create(2.0);
            d = an * d + b;
            d = Vector256<double>.One / Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(d), tiny), tiny, d);
            c = b + an / c;
            c = Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(c), tiny), tiny, c);
            Vector256<double> delta = d * c;
            h = Vector256.ConditionalSelect(active, h * delta, h);
            active &= Vector256.GreaterThan(Vector256.Abs(delta - Vector256<double>.One), Vector256.Create(Tolerance));
            if (active == Vector256<double>.Zero)
            {
                return Vector256.Min(Vector256<double>.One, Front(a, front, y) * h);
            }
        }
        throw new InvalidOperationException($"the incomplete gamma continued fraction did not converge for a = {a}, x = {y}");
    }
}
