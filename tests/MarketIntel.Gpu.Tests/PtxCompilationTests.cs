using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using MarketIntel.Gpu.Devices;

namespace MarketIntel.Gpu.Tests;

/// <summary>
/// ILGPU's CPU accelerator runs a kernel's IL as .NET code, so a kernel can pass there and still use something the
/// CUDA backend cannot translate. Every kernel of the library is therefore also compiled to PTX for the H200's
/// architecture (sm_90), which needs no GPU: what CI cannot run on a device, it at least compiles for one.
/// </summary>
public sealed class PtxCompilationTests
{
    /// <summary>Every kernel entry point in the library: static methods whose first parameter is an ILGPU index.</summary>
    public static TheoryData<string> Kernels()
    {
        var data = new TheoryData<string>();
        foreach (MethodInfo method in KernelMethods())
        {
            data.Add($"{method.DeclaringType!.FullName}.{method.Name}");
        }
        return data;
    }

    [Fact]
    public void The_library_has_kernels_to_compile() => Assert.NotEmpty(KernelMethods());

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Every_kernel_compiles_to_ptx_for_sm_90(string kernel)
    {
        MethodInfo method = KernelMethods().Single(m => $"{m.DeclaringType!.FullName}.{m.Name}" == kernel);
        using var context = Context.Create(builder => builder.Cuda());
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null);
        var entry = EntryPointDescription.FromImplicitlyGroupedKernel(method);
        var compiled = (PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
        Assert.Contains(".entry", compiled.PTXAssembly, StringComparison.Ordinal);
    }

    private static IEnumerable<MethodInfo> KernelMethods() =>
        typeof(GpuDevice).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.GetParameters() is [{ ParameterType: var first }, ..] && (first == typeof(Index1D) || first == typeof(Index2D) || first == typeof(Index3D)))
            .OrderBy(m => m.DeclaringType!.FullName + "." + m.Name, StringComparer.Ordinal);
}
