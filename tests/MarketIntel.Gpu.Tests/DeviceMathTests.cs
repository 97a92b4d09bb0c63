using MarketIntel.Gpu.Drift;

namespace MarketIntel.Gpu.Tests;

public sealed class DeviceMathTests
{
    [Fact]
    public void The_kernels_logarithm_is_within_a_few_ulp_of_Math_Log_over_the_whole_double_range()
    {
        var random = new Random(5);
        double worst = 0;
        for (int i = 0; i < 200_000; i++)
        {
            // Log-uniform over normal and subnormal doubles, plus values near 1 where ln x is small.
            double x = i % 4 == 0 ? 1 + ((random.NextDouble() - 0.5) * 1e-3) : Math.Pow(2, (random.NextDouble() * 2090) - 1070);
            double expected = Math.Log(x), actual = DeviceMath.Log(x);
            double error = Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), double.Epsilon);
            worst = Math.Max(worst, error);
            Assert.True(error <= 1e-15, $"ln {x:R}: Math.Log {expected:R}, kernel {actual:R}");
        }
        Assert.True(worst > 0, "no value differed at all: the test did not reach the kernel's arithmetic");
    }

    [Fact]
    public void Zero_negative_and_special_values_follow_Math_Log()
    {
        foreach (double x in (double[])[0, -1, double.NaN, double.PositiveInfinity, 1, 2, 0.5, double.Epsilon, double.MaxValue])
        {
            Assert.Equal(Math.Log(x), DeviceMath.Log(x), 15);
        }
        Assert.Equal(Math.Log2(1e-4 / 0.3), DeviceMath.Log2(1e-4 / 0.3), 14);
    }
}
