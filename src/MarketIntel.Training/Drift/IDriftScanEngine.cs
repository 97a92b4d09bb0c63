namespace MarketIntel.Training.Drift;

/// <summary>
/// Something other than the CPU that runs a <see cref="DriftScan"/>: the same counts layout in, the same
/// <see cref="DriftScanResult"/> out (within the engine's stated tolerance, with identical flags). The GPU library
/// implements it over an accelerator; the grid's drift scans take one where the silo's host registered it, and run
/// <see cref="DriftScan.Scan(ReadOnlySpan{int}, ReadOnlySpan{int}, int, double)"/> itself where none is.
/// </summary>
public interface IDriftScanEngine
{
    /// <summary>One line naming the device the scans run on, e.g. <c>cuda:NVIDIA H200 (139 GiB)</c>.</summary>
    string Device { get; }

    /// <summary>As <paramref name="layout"/>'s own <see cref="DriftScan.Scan(ReadOnlySpan{int}, ReadOnlySpan{int}, int, double)"/>, on the engine's device.</summary>
    /// <exception cref="ArgumentException">As the CPU scan: the spans do not fit the layout, or a count is negative.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="alpha"/> is not between 0 and 1.</exception>
    DriftScanResult Scan(DriftScan layout, ReadOnlySpan<int> counts, ReadOnlySpan<int> missing, int assets, double alpha);
}
