using MarketIntel.Gpu.Devices;

namespace MarketIntel.Gpu.Tests;

/// <summary>ILGPU's CPU accelerator, opened once per test class: every kernel runs on it in CI, against the CPU code paths.</summary>
public sealed class CpuAcceleratorFixture : IDisposable
{
    public GpuDevice Device { get; } = GpuDevice.Open(DeviceChoice.Cpu)!;

    public void Dispose() => Device.Dispose();
}
