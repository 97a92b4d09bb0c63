using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
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

    [Fact]
    public void The_kernels_exponential_is_within_one_ulp_of_Math_Exp_across_the_double_range()
    {
        var random = new Random(7);
        long worst = 0;
        for (int i = 0; i < 300_000; i++)
        {
            // The whole finite range (subnormal results included), and the logistic's working range more densely.
            double x = i % 3 == 0 ? (random.NextDouble() - 0.5) * 80 : -745.2 + (random.NextDouble() * 1455);
            double expected = Math.Exp(x), actual = DeviceMath.Exp(x);
            long ulps = Math.Abs(BitConverter.DoubleToInt64Bits(actual) - BitConverter.DoubleToInt64Bits(expected));
            worst = Math.Max(worst, ulps);
            Assert.True(ulps <= 1, $"e^{x:R}: Math.Exp {expected:R}, kernel {actual:R} ({ulps} ulp apart)");
        }
        Assert.True(worst > 0, "no value differed at all: the test did not reach the kernel's arithmetic");
    }

    [Fact]
    public void The_exponentials_edges_and_special_values_follow_Math_Exp()
    {
        double[] edges =
        [
            double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0, -0.0, 1, -1, 1e-300, -1e-300,
            709.782712893384, 709.7827128933841, 710, 1000, double.MaxValue,
            -708.3964185322641, -708.4, -744.4400719213812, -745.1332191019411, -745.1332191019412, -746, double.MinValue,
            0.34657359027997264, -0.34657359027997264, Math.Log(2), 36.7368005696771, -36.7368005696771,
        ];
        foreach (double x in edges)
        {
            double expected = Math.Exp(x), actual = DeviceMath.Exp(x);
            long ulps = Math.Abs(BitConverter.DoubleToInt64Bits(actual) - BitConverter.DoubleToInt64Bits(expected));
            Assert.True(double.IsNaN(x) ? double.IsNaN(actual) : ulps <= 1, $"e^{x:R}: Math.Exp {expected:R}, kernel {actual:R}");
        }
    }

    [Fact]
    public void A_kernel_calling_the_exponential_and_logarithm_compiles_to_ptx_for_sm_90()
    {
        using var context = Context.Create(builder => builder.Cuda());
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null);
        var entry = EntryPointDescription.FromImplicitlyGroupedKernel(typeof(DeviceMathTests).GetMethod(nameof(ExpAndLog), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!);
        var compiled = (PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
        Assert.Contains(".entry", compiled.PTXAssembly, StringComparison.Ordinal);
    }

    private static void ExpAndLog(Index1D i, ArrayView<double> values) => values[i] = DeviceMath.Exp(values[i]) + DeviceMath.Log(values[i]);
}
