namespace MarketIntel.Gpu.Training;

/// <summary>
/// One tree's gradients as 64-bit integers: each value times a power of two, rounded to the nearest integer
/// (halves away from zero). Integer addition is associative, so histograms summed by atomics in any order give
/// the same bits on every run; floating-point atomics would not. The scale is the largest power of two for which
/// the sum of every row's magnitude stays below 2^62, so no bin can overflow.
/// </summary>
/// <remarks>
/// Each row loses at most half a unit, 2^-1 / scale, in the conversion: a bin of n rows is within n / (2 scale)
/// of the exact sum of its single-precision gradients. For binary:logistic (|g| &lt;= 1) and 10 million rows the
/// scale is 2^38: a bin is then within 2^-16 of the exact sum even if every one of its rows rounded one way.
/// </remarks>
internal readonly record struct FixedPoint(double GradientScale, double HessianScale)
{
    /// <summary>The scales for one tree: from the largest |g| and h of its pairs (the device finds them) and the <paramref name="rows"/> summed.</summary>
    public static FixedPoint For(float largestGradient, float largestHessian, int rows) =>
        new(Scale(largestGradient, rows), Scale(largestHessian, rows));

    /// <summary>The largest power of two s with <paramref name="largest"/> x <paramref name="rows"/> x s &lt;= 2^62.</summary>
    private static double Scale(float largest, int rows)
    {
        if (!float.IsFinite(largest))
        {
            throw new ArgumentException($"a gradient or hessian of {largest} cannot be summed", nameof(largest));
        }
        double bound = (double)largest * Math.Max(rows, 1);
        return bound == 0 ? 1 : Math.ScaleB(1.0, 62 - (int)Math.Ceiling(Math.Log2(bound)));
    }

    /// <summary>
    /// A value in fixed point: exact scaling (a power of two), then rounding half away from zero. The kernels
    /// call this very function, so the host's and the device's integers are the same.
    /// </summary>
    public static long ToFixed(float value, double scale)
    {
        double x = value * scale;
        return (long)(x + (x >= 0 ? 0.5 : -0.5));
    }
}
