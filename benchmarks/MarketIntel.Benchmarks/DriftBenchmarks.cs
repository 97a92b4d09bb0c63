using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MarketIntel.Training.Drift;
using MarketIntel.Training.Statistics;

namespace MarketIntel.Benchmarks;

/// <summary>
/// The batch drift scan of issue 21: 10,000 assets x 40 features x 20 bins (full windows of 500 bars against references
/// of 20,000 rows), every statistic, p-value and Benjamini-Hochberg flag, one thread. Baseline: the same through
/// <see cref="DriftStatistics.Compare"/> cell by cell. The setup checks that the scan equals Compare on every cell first.
/// No job attribute: run in process (<c>--inProcess --warmupCount 3 --iterationCount 15</c>, docs/performance.md), so
/// that no second copy of the benchmark project (which references the whole server) has to be built.
/// </summary>
[MemoryDiagnoser]
public class DriftScanBenchmarks
{
    private const int Assets = 10_000;
    private const int Window = 500;
    private FeatureReference[] _series = null!;
    private DriftScan _scan = null!;
    private int[] _counts = null!;
    private int[] _missing = null!;
    private DriftScanResult _result = null!;
    private int[] _live = null!;
    private double[] _p = null!;
    private bool[] _rejected = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_series, _scan, _counts, _missing) = DriftData.Scan(Assets, Window, seed: 21);
        _result = new DriftScanResult(Assets, _series.Length);
        _live = new int[20];
        _p = new double[_series.Length];
        _rejected = new bool[_series.Length];
        Scan();
        for (int j = 0; j < Assets; j++)
        {
            for (int s = 0; s < _series.Length; s++)
            {
                FeatureDrift expected = Compare(j, s);
                FeatureDrift actual = _result[j, s];
                if (!Close(expected.Psi, actual.Psi) || !Close(expected.JensenShannon, actual.JensenShannon) || !Close(expected.Wasserstein, actual.Wasserstein)
                    || !Close(expected.ChiSquare, actual.ChiSquare) || !Close(expected.PValue, actual.PValue) || expected.DegreesOfFreedom != actual.DegreesOfFreedom)
                {
                    throw new InvalidOperationException($"asset {j}, feature {s}: the scan's {actual} differs from Compare's {expected}");
                }
            }
        }
        if (CompareEveryCell() != _result.DriftingSeries.Sum())
        {
            throw new InvalidOperationException("the scan's flags differ from Benjamini-Hochberg on Compare's p-values");
        }
    }

    [Benchmark(Baseline = true, Description = "Compare per cell + BH per asset")]
    public int CompareEveryCell()
    {
        int drifting = 0;
        for (int j = 0; j < Assets; j++)
        {
            for (int s = 0; s < _series.Length; s++)
            {
                _p[s] = Compare(j, s).PValue;
            }
            drifting += BenjaminiHochberg.Reject(_p, 0.05, _rejected);
        }
        return drifting;
    }

    [Benchmark(Description = "DriftScan.Scan")]
    public int Scan()
    {
        _scan.Scan(_counts, _missing, 0.05, _result);
        return _result.DriftingSeries[0];
    }

    private FeatureDrift Compare(int asset, int series)
    {
        Span<int> live = _live.AsSpan(0, _series[series].Bins);
        for (int b = 0; b < live.Length; b++)
        {
            live[b] = _counts[(_scan.Row(series) + b) * Assets + asset];
        }
        return DriftStatistics.Compare(_series[series], live, _missing[series * Assets + asset]);
    }

    private static bool Close(double expected, double actual) => Math.Abs(expected - actual) <= 1e-11 * Math.Abs(expected) + 1e-7;
}

/// <summary>
/// Drift tracking's cost per bar for a 40-feature model (issue 21: at most 0.5 µs, no allocation): one bar into the
/// sliding window of 500 (<see cref="DriftWindow.Add"/>), against the binary-search binning it replaced (baseline) and
/// against exponentially decayed counts, the alternative docs/drift.md weighs. The setup checks the window's counts
/// against a recount and the branch-free bins against the binary search.
/// </summary>
[MemoryDiagnoser]
public class DriftWindowBenchmarks
{
    private const int Features = 40;
    private const int Rows = 1024;
    private FeatureReference[] _series = null!;
    private float[][] _rows = null!;
    private DriftWindow _window = null!;
    private DecayedCounts _decayed = null!;
    private int[] _bins = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(5);
        (_series, _, _, _) = DriftData.Scan(0, 0, seed: 5);
        _rows = [.. Enumerable.Range(0, Rows).Select(_ => Enumerable.Range(0, Features).Select(_ => random.Next(20) == 0 ? float.NaN : (float)DriftData.Normal(random)).ToArray())];
        _window = new DriftWindow(_series, 500);
        _decayed = new DecayedCounts(_series, halfLife: 500);
        _bins = new int[Features];
        for (int r = 0; r < Rows; r++)
        {
            _window.Add(_rows[r]);
            for (int s = 0; s < Features; s++)
            {
                if (_series[s].Bin(_rows[r][s]) != BinarySearch(_series[s].Edges, _rows[r][s]))
                {
                    throw new InvalidOperationException($"row {r}, feature {s}: the branch-free bin differs from the binary search");
                }
            }
        }
        for (int s = 0; s < Features; s++)
        {
            var expected = new int[_series[s].Bins];
            foreach (float[] row in _rows.Skip(Rows - 500).Where(row => !float.IsNaN(row[s])))
            {
                expected[_series[s].Bin(row[s])]++;
            }
            if (!expected.AsSpan().SequenceEqual(_window.Counts(s)))
            {
                throw new InvalidOperationException($"feature {s}: the window's counts differ from a recount of the last 500 rows");
            }
        }
    }

    [Benchmark(Baseline = true, Description = "40 bins by binary search")]
    public int BinarySearch40()
    {
        float[] row = _rows[_next++ & (Rows - 1)];
        for (int s = 0; s < Features; s++)
        {
            _bins[s] = BinarySearch(_series[s].Edges, row[s]);
        }
        return _bins[0];
    }

    [Benchmark(Description = "40 bins, branch-free")]
    public int Bin40()
    {
        float[] row = _rows[_next++ & (Rows - 1)];
        for (int s = 0; s < Features; s++)
        {
            _bins[s] = _series[s].Bin(row[s]);
        }
        return _bins[0];
    }

    [Benchmark(Description = "DriftWindow.Add, 40 features")]
    public int WindowAdd()
    {
        _window.Add(_rows[_next++ & (Rows - 1)]);
        return _window.Count;
    }

    [Benchmark(Description = "decayed counts, 40 features")]
    public double DecayedAdd()
    {
        _decayed.Add(_rows[_next++ & (Rows - 1)]);
        return _decayed.Weight;
    }

    /// <summary>The binning <see cref="FeatureReference.Bin"/> used before: the upper bound by binary search.</summary>
    private static int BinarySearch(float[] edges, float value)
    {
        if (float.IsNaN(value))
        {
            return -1;
        }
        int low = 0, high = edges.Length;
        while (low < high)
        {
            int mid = (low + high) >>> 1;
            if (edges[mid] <= value)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }
        return low;
    }

    /// <summary>
    /// Exponentially decayed bin counts, the alternative to the window (not used by the grid): every count decays by
    /// <c>lambda</c> per bar, kept O(1) by growing the weight of new values instead and rescaling once it grows large.
    /// </summary>
    private sealed class DecayedCounts
    {
        private readonly FeatureReference[] _series;
        private readonly int[] _offsets;
        private readonly double[] _counts;
        private readonly double _growth;

        public DecayedCounts(FeatureReference[] series, int halfLife)
        {
            _series = series;
            _offsets = new int[series.Length + 1];
            for (int s = 0; s < series.Length; s++)
            {
                _offsets[s + 1] = _offsets[s] + series[s].Bins + 1;
            }
            _counts = new double[_offsets[^1]];
            _growth = Math.Pow(2, 1.0 / halfLife);
        }

        public double Weight { get; private set; } = 1;

        public void Add(ReadOnlySpan<float> values)
        {
            for (int s = 0; s < _series.Length; s++)
            {
                int bin = _series[s].Bin(values[s]);
                _counts[bin < 0 ? _offsets[s + 1] - 1 : _offsets[s] + bin] += Weight;
            }
            Weight *= _growth;
            if (Weight > 1e100)
            {
                // Rescale so nothing overflows: every count and the weight by the same factor.
                foreach (ref double count in _counts.AsSpan())
                {
                    count /= Weight;
                }
                Weight = 1;
            }
        }
    }
}

/// <summary>The drift benchmarks' data: references of 20,000 standard normal rows in 20 bins, live windows of fresh rows.</summary>
internal static class DriftData
{
    public static (FeatureReference[] Series, DriftScan Scan, int[] Counts, int[] Missing) Scan(int assets, int window, int seed)
    {
        var random = new Random(seed);
        var column = new float[20_000];
        var series = new FeatureReference[40];
        for (int s = 0; s < series.Length; s++)
        {
            for (int r = 0; r < column.Length; r++)
            {
                column[r] = (float)Normal(random);
            }
            series[s] = ProfileBuilder.Reference($"f{s}", column, 20);
        }
        var scan = new DriftScan(series);
        var counts = new int[scan.Rows * assets];
        var missing = new int[series.Length * assets];
        for (int j = 0; j < assets; j++)
        {
            // One asset in ten drifts: a 0.3-sd shift in its first feature.
            double shift = j % 10 == 0 ? 0.3 : 0;
            for (int s = 0; s < series.Length; s++)
            {
                for (int v = 0; v < window; v++)
                {
                    counts[(scan.Row(s) + series[s].Bin((float)(Normal(random) + (s == 0 ? shift : 0)))) * assets + j]++;
                }
            }
        }
        return (series, scan, counts, missing);
    }

    public static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
