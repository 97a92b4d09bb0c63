using MarketIntel.Gpu.Devices;
using MarketIntel.Training.Drift;

namespace MarketIntel.Gpu.Drift;

/// <summary>
/// The drift scans of a process that holds one <see cref="GpuDevice"/> (a worker silo's), through
/// <see cref="GpuDriftScan"/>. Callers on many threads take turns: one scan at a time on the device.
/// </summary>
/// <remarks>
/// The device's own lock (<see cref="GpuDevice.Launches"/>, which training jobs take too) rather than a queue or
/// per-caller streams: every scan uses the accelerator's default stream, and ILGPU
/// accelerators are not made for launches from several threads at once on one stream. Scans are short and rare (the
/// retraining watch's interval, the API's cluster-wide drift), so waiting for the lock costs little. The engine does not
/// own the device: the host that opened it disposes it.
/// </remarks>
public sealed class GpuDriftScanEngine(GpuDevice device) : IDriftScanEngine
{
    private readonly GpuDevice _device = device ?? throw new ArgumentNullException(nameof(device));

    /// <inheritdoc/>
    public string Device => _device.Description;

    /// <inheritdoc/>
    public DriftScanResult Scan(DriftScan layout, ReadOnlySpan<int> counts, ReadOnlySpan<int> missing, int assets, double alpha)
    {
        ArgumentNullException.ThrowIfNull(layout);
        lock (_device.Launches)
        {
            using var scan = new GpuDriftScan(_device, layout);
            return scan.Scan(counts, missing, assets, alpha);
        }
    }
}
