using ILGPU;

namespace MarketIntel.Gpu.Drift;

/// <summary>
/// The natural logarithm in double precision for kernels. ILGPU's CUDA backend has no double logarithm of its own
/// (Math.Log needs ILGPU.Algorithms), and on the CPU accelerator Math.Log would run as the host's: a kernel that called it
/// would pass in CI and fail on the device. This one is plain arithmetic that both backends compile alike, so CI runs
/// exactly what the device runs, and its accuracy is tested against Math.Log (a few ulp).
/// </summary>
internal static class DeviceMath
{
    private const double Ln2Hi = 6.93147180369123816490e-01;  // ln 2 split so that e * Ln2Hi is exact for |e| < 2^11
    private const double Ln2Lo = 1.90821492927058770002e-10;
    private const double Sqrt2 = 1.4142135623730951;

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
}
