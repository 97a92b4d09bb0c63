using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using MarketIntel.Gpu.Training;

namespace MarketIntel.Gpu.Tests.Training;

/// <summary>
/// The explicitly grouped training kernels (shared memory, barriers) compiled to PTX for the H200's sm_90, as
/// <see cref="PtxCompilationTests"/> compiles the implicitly grouped ones: the CPU accelerator runs a kernel's IL as
/// .NET code and would pass one the CUDA backend cannot translate.
/// </summary>
public sealed class TrainingKernelsPtxTests
{
    public static TheoryData<string> Kernels() => [.. KernelMethods().Select(m => m.Name)];

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Every_grouped_training_kernel_compiles_to_ptx_for_sm_90(string kernel)
    {
        MethodInfo method = KernelMethods().Single(m => m.Name == kernel);
        using var context = Context.Create(builder => builder.Cuda());
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null);
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(method);
        var compiled = (PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
        Assert.Contains(".entry", compiled.PTXAssembly, StringComparison.Ordinal);
        if (kernel == nameof(HistogramKernels.Histogram))
        {
            // The per-block histogram lives in shared memory and is summed there with 64-bit integer atomics.
            Assert.Contains(".shared", compiled.PTXAssembly, StringComparison.Ordinal);
            Assert.Contains("red.add.shared.u64", compiled.PTXAssembly, StringComparison.Ordinal);   // an atomic add whose result is unused
        }
    }

    private static IEnumerable<MethodInfo> KernelMethods() =>
        typeof(HistogramKernels).GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.DeclaredOnly)
            .Where(m => m.GetParameters()[0].ParameterType != typeof(Index1D))
            .OrderBy(m => m.Name, StringComparer.Ordinal);
}
