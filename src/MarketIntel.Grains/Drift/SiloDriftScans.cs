using MarketIntel.Training.Drift;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MarketIntel.Grains.Drift;

/// <summary>
/// The silo's drift scans: on its device where the host registered an <see cref="IDriftScanEngine"/> (a worker silo
/// started with a GPU, or ILGPU's CPU accelerator with <c>--device cpu</c>), else on the CPU exactly as
/// <see cref="DriftScan"/> runs them. A device that fails during a scan does not fail the scan: it runs again on the
/// CPU, with a warning logged, and the next scan tries the device again.
/// </summary>
/// <remarks>
/// Input is checked against the layout before the device is touched, so bad counts fail with the CPU scan's message
/// and never count as a device failure; whatever the device throws after that is the device's.
/// </remarks>
public sealed partial class SiloDriftScans(ILogger<SiloDriftScans> log, IDriftScanEngine? engine = null)
{
    private long _deviceScans;
    private long _fallbacks;

    /// <summary>The CPU path alone (no device, nothing logged): for callers outside a silo.</summary>
    public static SiloDriftScans Cpu { get; } = new(NullLogger<SiloDriftScans>.Instance);

    /// <summary>The device scans run on (<see cref="IDriftScanEngine.Device"/>), or <c>cpu</c> without one.</summary>
    public string Device => engine?.Device ?? "cpu";

    /// <summary>Scans the device completed since the silo started.</summary>
    public long DeviceScans => Interlocked.Read(ref _deviceScans);

    /// <summary>Scans the device failed, which then ran on the CPU.</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    /// <summary>As <paramref name="layout"/>'s <see cref="DriftScan.Scan(ReadOnlySpan{int}, ReadOnlySpan{int}, int, double)"/>, on the device where there is one.</summary>
    /// <exception cref="ArgumentException">The spans do not fit the layout, or a count is negative (the CPU scan's message).</exception>
    public DriftScanResult Scan(DriftScan layout, ReadOnlySpan<int> counts, ReadOnlySpan<int> missing, int assets, double alpha)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (engine is null || !(alpha > 0 && alpha < 1))
        {
            return layout.Scan(counts, missing, assets, alpha);
        }
        layout.CheckCounts(counts, missing, assets);
        try
        {
            DriftScanResult result = engine.Scan(layout, counts, missing, assets, alpha);
            Interlocked.Increment(ref _deviceScans);
            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Interlocked.Increment(ref _fallbacks);
            LogDeviceFailed(engine.Device, assets, layout.Series.Count, e);
            return layout.Scan(counts, missing, assets, alpha);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The drift scan of {Assets} asset(s) x {Series} series failed on device {Device}; it ran on the CPU instead")]
    private partial void LogDeviceFailed(string device, int assets, int series, Exception exception);
}
