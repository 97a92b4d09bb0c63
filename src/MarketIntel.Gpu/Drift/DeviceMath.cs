using ILGPU;

namespace MarketIntel.Gpu.Drift;

/// <summary>
/// The natural logarithm and exponential in double precision for kernels (the drift scan's and the training
/// gradients'). ILGPU's CUDA backend has no double logarithm or exponential of its own (Math.Log and Math.Exp need
/// ILGPU.Algorithms), and on the CPU accelerator Math.Log would run as the host's: a kernel that called it would pass
/// in CI and fail on the device. These are plain arithmetic that both backends compile alike, so CI runs exactly what
/// the device runs, and their accuracy is tested against Math.Log and Math.Exp (a few ulp).
/// </summary>
internal static class DeviceMath
{
    private const double Ln2Hi = 6.93147180369123816490e-01;  // ln 2 split so that e * Ln2Hi is exact for |e| < 2^11
    private const double Ln2Lo = 1.90821492927058770002e-10;
    private const double Sqrt2 = 1.4142135623730951;
    private const double InvLn2 = 1.4426950408889634;
    private const double ExpOverflow = 7.09782712893383973096e+02;    // above this e^x is past double.MaxValue
    private const double ExpUnderflow = -7.45133219101941108420e+02;  // below this e^x rounds to 0

    /// <summary>ln x for x &gt; 0 (NaN for x &lt; 0 or NaN, -infinity at 0, +infinity at +infinity).</summary>
    public static double Log(double x)
    {
        if (!(x > 0))
        {
            return x == 0 ? double.NegativeInfinity : double.NaN;
        }
        if (x == double.PositiveInfinity)
        {
            return x;
        }
        int exponent = 0;
        if (x < 2.2250738585072014e-308)
        {
            x *= 18014398509481984.0;  // 2^54: a subnormal made normal
            exponent = -54;
        }
        ulong bits = Interop.FloatAsInt(x);
        exponent += (int)((bits >> 52) & 0x7FF) - 1023;
        double m = Interop.IntAsFloat((bits & 0x000F_FFFF_FFFF_FFFFUL) | 0x3FF0_0000_0000_0000UL);  // in [1, 2)
        if (m > Sqrt2)
        {
            m *= 0.5;
            exponent++;
        }
        // ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172: the odd series to s^23 leaves under 1e-19.
        double s = (m - 1) / (m + 1), s2 = s * s;
        double series = 1.0 / 23;
        series = (series * s2) + (1.0 / 21);
        series = (series * s2) + (1.0 / 19);
        series = (series * s2) + (1.0 / 17);
        series = (series * s2) + (1.0 / 15);
        series = (series * s2) + (1.0 / 13);
        series = (series * s2) + (1.0 / 11);
        series = (series * s2) + (1.0 / 9);
        series = (series * s2) + (1.0 / 7);
        series = (series * s2) + (1.0 / 5);
        series = (series * s2) + (1.0 / 3);
        double e = exponent;
        return (e * Ln2Hi) + ((2 * s * s2 * series) + (e * Ln2Lo) + (2 * s));
    }

    /// <summary>log2 x, as <see cref="Log"/> over ln 2.</summary>
    public static double Log2(double x) => Log(x) * 1.4426950408889634;

    /// <summary>e^x (NaN for NaN, +infinity past about 709.78, 0 below about -745.13, subnormal results in between).</summary>
    public static double Exp(double x)
    {
        if (!(x <= ExpOverflow))
        {
            return x > ExpOverflow ? double.PositiveInfinity : x;   // past the overflow, or NaN
        }
        if (x < ExpUnderflow)
        {
            return 0;
        }
        // x = k ln 2 + r with |r| <= ln 2 / 2: e^x = 2^k e^r. Rounding to the nearest k by hand (truncation of a
        // value moved by a half): Math.Round has no CUDA translation without ILGPU.Algorithms.
        int k = (int)((x * InvLn2) + (x >= 0 ? 0.5 : -0.5));
        double r = (x - (k * Ln2Hi)) - (k * Ln2Lo);
        // e^r - 1 by its Taylor series to r^13 (the rest is under 1e-17 for |r| <= 0.35), then 1 added last, so
        // the series' rounding errors are small against the result.
        double series = 1.0 / 6227020800;   // 1/13!
        series = (series * r) + (1.0 / 479001600);
        series = (series * r) + (1.0 / 39916800);
        series = (series * r) + (1.0 / 3628800);
        series = (series * r) + (1.0 / 362880);
        series = (series * r) + (1.0 / 40320);
        series = (series * r) + (1.0 / 5040);
        series = (series * r) + (1.0 / 720);
        series = (series * r) + (1.0 / 120);
        series = (series * r) + (1.0 / 24);
        series = (series * r) + (1.0 / 6);
        series = (series * r) + 0.5;
        double er = 1 + ((series * r * r) + r);
        // 2^k as a double's bits where k is a normal exponent; outside that, in two steps so that only the last
        // multiplication rounds (into a subnormal) or the first stays finite (k = 1024 just below the overflow).
        if (k > 1023)
        {
            return er * 2 * PowerOfTwo(k - 1);
        }
        if (k < -1022)
        {
            return er * PowerOfTwo(k + 1000) * PowerOfTwo(-1000);
        }
        return er * PowerOfTwo(k);
    }

    /// <summary>2^k for a normal exponent k (-1022..1023).</summary>
    private static double PowerOfTwo(int k) => Interop.IntAsFloat((ulong)(k + 1023) << 52);
}
