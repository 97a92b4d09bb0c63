using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using MarketIntel.Gpu.Training;

namespace MarketIntel.Gpu.Tests.Training;

/// <summary>
/// The CPU accelerator runs a kernel's IL as .NET code, so it would pass a kernel the CUDA backend cannot translate
/// (64-bit atomics on shared memory, say). Each training kernel is therefore also compiled to PTX for the H200's
/// sm_90, which needs no GPU: the explicitly grouped ones (shared memory, barriers) as such.
/// </summary>
public sealed class TrainingKernelsPtxTests
{
    public static TheoryData<string> Kernels() => [.. KernelMethods().Select(m => m.Name)];

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Every_training_kernel_compiles_to_ptx_for_sm_90(string kernel)
    {
        MethodInfo method = KernelMethods().Single(m => m.Name == kernel);
        bool implicitlyGrouped = method.GetParameters()[0].ParameterType == typeof(Index1D);
        using var context = Context.Create(builder => builder.Cuda());
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null);
        EntryPointDescription entry = implicitlyGrouped
            ? EntryPointDescription.FromImplicitlyGroupedKernel(method)
            : EntryPointDescription.FromExplicitlyGroupedKernel(method);
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
        typeof(HistogramKernels).GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.DeclaredOnly).OrderBy(m => m.Name, StringComparer.Ordinal);
}
