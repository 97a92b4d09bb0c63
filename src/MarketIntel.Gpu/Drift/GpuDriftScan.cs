using ILGPU;
using ILGPU.Runtime;
using MarketIntel.Gpu.Devices;
using MarketIntel.Training.Drift;
using MarketIntel.Training.Statistics;

namespace MarketIntel.Gpu.Drift;

/// <summary>
/// <see cref="DriftScan"/> on a <see cref="GpuDevice"/>: the same counts layout in, the same <see cref="DriftScanResult"/>
/// out. One kernel launch computes every asset x series cell's live count, PSI, Jensen-Shannon distance, Wasserstein
/// distance, chi-square statistic and degrees of freedom (one thread per cell); the host then takes the p-values from
/// <see cref="ChiSquare.Survival(ReadOnlySpan{double}, double, Span{double})"/> and flags drift with
/// <see cref="DriftScanResult.Flag"/>, the CPU scan's own code, so each of those has one definition.
/// </summary>
/// <remarks>
/// The kernel follows <see cref="DriftStatistics.Compare"/> term by term (bin merging for the chi-square test included),
/// so counts, degrees of freedom and NaN cases are exactly the CPU's, and the distances differ only where the device's
/// logarithm rounds differently from the host's (and where the device fuses a multiply and an add): within 1e-9
/// relative, well inside what the statistics mean (the CPU scan's own fast paths differ from Compare by up to 1e-11).
/// The merging test multiplies a live count by a reference count in 64-bit integers, so a reference may count at most
/// <see cref="uint.MaxValue"/> values (the CPU uses 128-bit products); larger references are refused.
/// </remarks>
public sealed class GpuDriftScan : IDisposable
{
    private readonly DriftScan _scan;
    private readonly Accelerator _accelerator;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _rowOf;
    private readonly MemoryBuffer1D<long, Stride1D.Dense> _present;
    private readonly MemoryBuffer1D<long, Stride1D.Dense> _referenceCounts;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _centers;
    private readonly Action<Index1D, Cells, References> _kernel;

    /// <summary>A scan over <paramref name="scan"/>'s series on <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentException">A reference counts more than <see cref="uint.MaxValue"/> values.</exception>
    public GpuDriftScan(GpuDevice device, DriftScan scan)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(scan);
        _scan = scan;
        _accelerator = device.Accelerator;
        IReadOnlyList<FeatureReference> series = scan.Series;
        var rowOf = new int[series.Count + 1];
        var present = new long[series.Count];
        var referenceCounts = new long[scan.Rows];
        var centers = new double[scan.Rows];
        for (int s = 0; s < series.Count; s++)
        {
            FeatureReference reference = series[s];
            if (reference.Present > uint.MaxValue)
            {
                throw new ArgumentException($"GPU drift scan: series {s} ('{reference.Name}') has a reference of {reference.Present} values, more than the {uint.MaxValue} the device's 64-bit merging test allows");
            }
            rowOf[s] = scan.Row(s);
            present[s] = reference.Present;
            for (int b = 0; b < reference.Bins; b++)
            {
                referenceCounts[scan.Row(s) + b] = reference.Counts[b];
                // Centers are only read between two bins of a reference with values; Compare never asks otherwise.
                centers[scan.Row(s) + b] = reference.Present == 0 ? 0 : reference.Center(b);
            }
        }
        rowOf[^1] = scan.Rows;
        _rowOf = Upload(rowOf);
        _present = Upload(present);
        _referenceCounts = Upload(referenceCounts);
        _centers = Upload(centers);
        _kernel = _accelerator.LoadAutoGroupedStreamKernel<Index1D, Cells, References>(StatisticsKernel);
    }

    /// <summary>The CPU scan whose layout this one reads.</summary>
    public DriftScan Layout => _scan;

    /// <summary>As <see cref="DriftScan.Scan(ReadOnlySpan{int}, ReadOnlySpan{int}, int, double)"/>, on the device.</summary>
    /// <exception cref="ArgumentException">As the CPU scan: the spans do not fit the layout, or a count is negative.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="alpha"/> is not between 0 and 1.</exception>
    public DriftScanResult Scan(ReadOnlySpan<int> counts, ReadOnlySpan<int> missing, int assets, double alpha)
    {
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), $"alpha must be between 0 and 1 (got {alpha})");
        }
        _scan.CheckCounts(counts, missing, assets);
        int series = _scan.Series.Count;
        var result = new DriftScanResult(assets, series);
        int cells = assets * series;
        if (cells == 0)
        {
            return result;
        }
        missing.CopyTo(result.Missing);
        using var deviceCounts = Upload(counts);
        using var count = _accelerator.Allocate1D<int>(cells);
        using var degrees = _accelerator.Allocate1D<int>(cells);
        using var statistics = _accelerator.Allocate1D<double>(4L * cells);
        var views = new Cells
        {
            Live = deviceCounts.View,
            Assets = assets,
            Count = count.View,
            DegreesOfFreedom = degrees.View,
            Statistics = statistics.View,
        };
        _kernel(cells, views, new References
        {
            RowOf = _rowOf.View,
            Present = _present.View,
            Counts = _referenceCounts.View,
            Centers = _centers.View,
        });
        count.View.AsContiguous().CopyToCPU(result.Count.AsSpan());
        degrees.View.AsContiguous().CopyToCPU(result.DegreesOfFreedom.AsSpan());
        ArrayView<double> all = statistics.View.AsContiguous();
        all.SubView(0, cells).CopyToCPU(result.Psi.AsSpan());
        all.SubView(cells, cells).CopyToCPU(result.JensenShannon.AsSpan());
        all.SubView(2L * cells, cells).CopyToCPU(result.Wasserstein.AsSpan());
        all.SubView(3L * cells, cells).CopyToCPU(result.ChiSquare.AsSpan());
        PValues(result);
        result.Flag(alpha);
        return result;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _rowOf.Dispose();
        _present.Dispose();
        _referenceCounts.Dispose();
        _centers.Dispose();
    }

    // Per series, the cells with a test share its degrees of freedom only where no bin was merged, so p-values go
    // cell by cell through the same survival function the CPU scan uses.
    private static void PValues(DriftScanResult result)
    {
        double[] chi = result.ChiSquare, p = result.PValue;
        int[] df = result.DegreesOfFreedom;
        Parallel.For(0, (chi.Length + 4095) / 4096, block =>
        {
            for (int i = block * 4096; i < Math.Min(chi.Length, (block + 1) * 4096); i++)
            {
                p[i] = df[i] < 1 ? double.NaN : ChiSquare.Survival(chi[i], df[i]);
            }
        });
    }

    private MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(ReadOnlySpan<T> values)
        where T : unmanaged
    {
        var buffer = _accelerator.Allocate1D<T>(Math.Max(1, values.Length));
        buffer.View.AsContiguous().SubView(0, values.Length).CopyFromCPU(values);
        return buffer;
    }

    /// <summary>The cells' inputs and outputs: live counts in the scan's layout; statistics PSI, JS, W1, chi-square, each <c>cells</c> long.</summary>
    internal struct Cells
    {
        public ArrayView<int> Live;
        public int Assets;
        public ArrayView<int> Count;
        public ArrayView<int> DegreesOfFreedom;
        public ArrayView<double> Statistics;
    }

    /// <summary>The references: each series' first row (and one past the last), present count, per-row counts and bin centers.</summary>
    internal struct References
    {
        public ArrayView<int> RowOf;
        public ArrayView<long> Present;
        public ArrayView<long> Counts;
        public ArrayView<double> Centers;
    }

    /// <summary>One cell (<c>series * assets + asset</c>, the result's order): <see cref="DriftStatistics.Compare"/>'s arithmetic.</summary>
    internal static void StatisticsKernel(Index1D cell, Cells cells, References references)
    {
        int assets = cells.Assets, total = (int)cells.Count.Length;
        int s = cell.X / assets, asset = cell.X - (s * assets);
        int first = references.RowOf[s], bins = references.RowOf[s + 1] - first;
        long n = 0;
        for (int b = 0; b < bins; b++)
        {
            n += cells.Live[((long)(first + b) * assets) + asset];
        }
        cells.Count[cell] = (int)n;
        long present = references.Present[s];
        if (n == 0 || present == 0)
        {
            cells.DegreesOfFreedom[cell] = 0;
            for (int k = 0; k < 4; k++)
            {
                cells.Statistics[((long)k * total) + cell.X] = double.NaN;
            }
            return;
        }
        double referenceTotal = present;
        double psi = 0, js = 0, wasserstein = 0, referenceCumulative = 0, liveCumulative = 0;
        for (int i = 0; i < bins; i++)
        {
            int live = cells.Live[((long)(first + i) * assets) + asset];
            double e = references.Counts[first + i] / referenceTotal;
            double a = live / (double)n;
            double ef = Math.Max(e, DriftStatistics.PsiFloor), af = Math.Max(a, DriftStatistics.PsiFloor);
            psi += (af - ef) * DeviceMath.Log(af / ef);
            double mid = (a + e) / 2;
            js += (a > 0 ? a * DeviceMath.Log2(a / mid) : 0) + (e > 0 ? e * DeviceMath.Log2(e / mid) : 0);
            if (i > 0)
            {
                wasserstein += Math.Abs(referenceCumulative - liveCumulative) * (references.Centers[first + i] - references.Centers[first + i - 1]);
            }
            referenceCumulative += e;
            liveCumulative += a;
        }

        // The two-sample test over bins merged until each expects MinimumExpected live values (as Compare's Homogeneity).
        double chi = 0;
        int groups = 0;
        long previousLive = 0, previousReference = 0, groupLive = 0, groupReference = 0;
        bool hasPrevious = false;
        for (int i = 0; i < bins; i++)
        {
            groupLive += cells.Live[((long)(first + i) * assets) + asset];
            groupReference += references.Counts[first + i];
            if (n * groupReference >= (long)DriftStatistics.MinimumExpected * present)
            {
                if (hasPrevious)
                {
                    chi += DriftStatistics.Term(previousLive, previousReference, n, present);
                    groups++;
                }
                previousLive = groupLive;
                previousReference = groupReference;
                hasPrevious = true;
                groupLive = 0;
                groupReference = 0;
            }
        }
        previousLive += groupLive;
        previousReference += groupReference;
        if (previousLive + previousReference > 0)
        {
            chi += DriftStatistics.Term(previousLive, previousReference, n, present);
            groups++;
        }
        cells.DegreesOfFreedom[cell] = groups < 2 ? 0 : groups - 1;
        cells.Statistics[cell.X] = psi;
        cells.Statistics[(long)total + cell.X] = Math.Sqrt(Math.Max(0, js / 2));
        cells.Statistics[(2L * total) + cell.X] = wasserstein;
        cells.Statistics[(3L * total) + cell.X] = groups < 2 ? 0 : chi;
    }
}
