using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace MarketIntel.Gpu.Tests.Training;

/// <summary>
/// ILGPU's CPU accelerator, which runs the kernels as CUDA would (groups, shared memory, barriers, atomics) on
/// threads: one per test class. Small groups (16 threads) keep it quick on a loaded machine while still spreading
/// every kernel over several groups and threads.
/// </summary>
public sealed class CpuAccelerator : IDisposable
{
    private readonly Context _context;

    public CpuAccelerator()
    {
        var device = new CPUDevice(numThreadsPerWarp: 4, numWarpsPerMultiprocessor: 4, numMultiprocessors: 2);
        _context = Context.Create(builder => builder.CPU(device));
        Accelerator = _context.CreateCPUAccelerator(0);
    }

    public Accelerator Accelerator { get; }

    public void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
    }
}
