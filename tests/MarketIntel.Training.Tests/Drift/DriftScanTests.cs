using MarketIntel.Training.Drift;
using MarketIntel.Training.Statistics;

namespace MarketIntel.Training.Tests.Drift;

/// <summary>The batch scan against <see cref="DriftStatistics.Compare"/> cell by cell, and its layout and errors.</summary>
public sealed class DriftScanTests
{
    // The fast paths differ from Compare in rounding only: ln a - ln e for ln(a / e), Vector256.Log for Math.Log in the
    // per-bin pass (whose last bit may differ between AVX2 and AVX-512 machines; the count tables take Math.Log itself),
    // and the p-value's front factor from a vectorized exp/log (about df * 1e-16). Every cell agrees to 1e-12 relative
    // on the machine of docs/performance.md; 1e-11 leaves room for another instruction set and is far below any digit a
    // drift report shows. The Jensen-Shannon distance is a square root: where live equals reference exactly its
    // divergence is a sum of terms of size 0.1 cancelling to about 1e-17, whose root is about 3e-9, hence its absolute 1e-7.
    private const double Relative = 1e-11;

    [Fact]
    public void Every_cell_of_the_scan_equals_Compare_and_the_flags_equal_Benjamini_Hochberg_on_Compares_p_values()
    {
        var random = new Random(42);
        FeatureReference[] series = Profile(random);
        var scan = new DriftScan(series);
        const int Assets = 1287;   // two whole chunks of 512 and a part, not a multiple of 4
        var counts = new int[scan.Rows * Assets];
        var missing = new int[series.Length * Assets];
        var windows = new int[Assets];
        for (int j = 0; j < Assets; j++)
        {
            // Full windows mostly; some short (the scalar path), some empty, some drifted.
            windows[j] = (j % 17) switch { 0 => 0, 1 => 12, 2 => 39, 3 => 60, _ => random.Next(2) == 0 ? 500 : 5000 };
            double shift = j % 5 == 0 ? 0.4 : 0;
            for (int s = 0; s < series.Length; s++)
            {
                for (int v = 0; v < windows[j]; v++)
                {
                    double value = DriftWindowTests.Normal(random) + (s % 3 == 0 ? shift : 0);
                    if (random.NextDouble() < 0.03)
                    {
                        missing[s * Assets + j]++;
                        continue;
                    }
                    counts[(scan.Row(s) + series[s].Bin((float)value)) * Assets + j]++;
                }
            }
        }
        DriftScanResult result = scan.Scan(counts, missing, Assets, 0.05);

        (int vectorCells, int flagged) = AssertEveryCellEqualsCompare(scan, counts, missing, result, j => $"window {windows[j]}");
        Assert.True(vectorCells > Assets * series.Length / 2, $"only {vectorCells} cells took the vector path");
        Assert.True(flagged > 100, $"only {flagged} cells flagged: the shifted assets were not caught");
    }

    [Fact]
    public void Chunks_of_equal_windows_from_count_tables_equal_Compare_cell_by_cell()
    {
        // Chunks of 512 assets whose windows all hold the same number of values take the count tables: the first two
        // full windows of 500 (the second shifted, so its counts reach further and the series' tables grow while kept),
        // the third windows of 5,000 (new tables), the last 64 windows of 60, too short for the test in most series
        // (Compare alone).
        var random = new Random(7);
        FeatureReference[] series = Profile(random);
        var scan = new DriftScan(series);
        const int Assets = 3 * 512 + 64;
        var counts = new int[scan.Rows * Assets];
        var missing = new int[series.Length * Assets];
        int Window(int j) => (j / 512) switch { 0 or 1 => 500, 2 => 5000, _ => 60 };
        for (int j = 0; j < Assets; j++)
        {
            double shift = j / 512 == 1 ? 1.5 : j % 5 == 0 ? 0.4 : 0;
            for (int s = 0; s < series.Length; s++)
            {
                for (int v = 0; v < Window(j); v++)
                {
                    counts[(scan.Row(s) + series[s].Bin((float)(DriftWindowTests.Normal(random) + shift))) * Assets + j]++;
                }
            }
        }
        DriftScanResult result = scan.Scan(counts, missing, Assets, 0.05);

        (int vectorCells, int flagged) = AssertEveryCellEqualsCompare(scan, counts, missing, result, j => $"window {Window(j)}");
        Assert.True(vectorCells > 3 * 512 * series.Length / 2, $"only {vectorCells} cells took a vector path");
        Assert.True(flagged > 512, $"only {flagged} cells flagged: the shifted assets were not caught");
    }

    [Fact]
    public void A_scan_of_windows_laid_out_by_Write_equals_Compare_on_each_windows_counts()
    {
        var random = new Random(9);
        FeatureReference[] series = Profile(random)[..6];
        var scan = new DriftScan(series);
        const int Assets = 7;
        var counts = new int[scan.Rows * Assets];
        var missing = new int[series.Length * Assets];
        var windows = new DriftWindow[Assets];
        for (int j = 0; j < Assets; j++)
        {
            windows[j] = new DriftWindow(series, 100 + 50 * j);
            for (int t = 0; t < 400; t++)
            {
                windows[j].Add([.. series.Select(_ => random.NextDouble() < 0.05 ? float.NaN : (float)(DriftWindowTests.Normal(random) + 0.1 * j))]);
            }
            scan.Write(windows[j], j, Assets, counts, missing);
        }
        DriftScanResult result = scan.Scan(counts, missing, Assets, 0.05);
        for (int j = 0; j < Assets; j++)
        {
            for (int s = 0; s < series.Length; s++)
            {
                FeatureDrift expected = DriftStatistics.Compare(series[s], windows[j].Counts(s), windows[j].Missing(s));
                Assert.Equal(expected.Missing, result[j, s].Missing);
                Close(expected.PValue, result[j, s].PValue, 1e-300, $"asset {j}, series {s}: p-value");
            }
        }
        Assert.Contains("the window counts 3 series, the scan 6",
            Assert.Throws<ArgumentException>(() => scan.Write(new DriftWindow(series[..3], 5), 0, Assets, counts, missing)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Counts_that_do_not_fit_the_layout_or_are_negative_are_refused_with_the_place_named()
    {
        FeatureReference[] series = [DriftStatisticsTests.Reference([10, 20, 30]), DriftStatisticsTests.Reference([5, 5], name: "g")];
        var scan = new DriftScan(series);
        Assert.Equal(5, scan.Rows);
        var counts = new int[5 * 4];
        var missing = new int[2 * 4];
        Assert.Contains("4 assets need 20 counts and 8 missing counts, not 19 and 8",
            Assert.Throws<ArgumentException>(() => scan.Scan(counts.AsSpan(1), missing, 4, 0.05)).Message, StringComparison.Ordinal);
        counts[(scan.Row(1) + 1) * 4 + 2] = -3;
        Assert.Contains("series 1 ('g') bin 1 asset 2 is -3",
            Assert.Throws<ArgumentException>(() => scan.Scan(counts, missing, 4, 0.05)).Message, StringComparison.Ordinal);
        counts[(scan.Row(1) + 1) * 4 + 2] = 0;
        missing[5] = -1;
        Assert.Contains("missing of series 1 asset 1 is -1", Assert.Throws<ArgumentException>(() => scan.Scan(counts, missing, 4, 0.05)).Message, StringComparison.Ordinal);
        missing[5] = 0;
        Assert.Throws<ArgumentOutOfRangeException>(() => scan.Scan(counts, missing, 4, 1.5));
        DriftScanResult empty = scan.Scan(counts, missing, 4, 0.05);
        Assert.True(double.IsNaN(empty[3, 1].PValue) && double.IsNaN(empty[3, 1].Psi) && !empty.Drifting[empty.Index(3, 1)]);
        Assert.Throws<ArgumentOutOfRangeException>(() => empty[4, 0]);
    }

    /// <summary>40 series: normal features of 20 bins and others of 5, 40 and 1 bin, ties, and a hand-made reference with an empty bin.</summary>
    private static FeatureReference[] Profile(Random random)
    {
        var series = new FeatureReference[40];
        for (int s = 0; s < series.Length; s++)
        {
            float[] values = DriftWindowTests.Values(random, 20_000, 0.02);
            series[s] = (s % 10) switch
            {
                7 => ProfileBuilder.Reference($"f{s}", values, 5),
                8 => ProfileBuilder.Reference($"f{s}", values, 40),
                9 => ProfileBuilder.Reference($"f{s}", [.. values.Select(v => MathF.Round(v * 2))]),
                _ => ProfileBuilder.Reference($"f{s}", values),
            };
        }
        series[5] = ProfileBuilder.Reference("constant", [1f, 1f]);
        series[6] = new FeatureReference("hand", [-1f, 0f, 1f], [3000, 0, 7000, 9000], 0, -4f, 4f);
        return series;
    }

    // Every cell of the scan against Compare on its counts, and each asset's flags against Benjamini-Hochberg on
    // Compare's p-values; returns how many cells a vector path can take and how many were flagged.
    private static (int VectorCells, int Flagged) AssertEveryCellEqualsCompare(DriftScan scan, int[] counts, int[] missing, DriftScanResult result, Func<int, string> describe)
    {
        int assets = result.Assets;
        var p = new double[scan.Series.Count];
        var rejected = new bool[scan.Series.Count];
        int vectorCells = 0, flagged = 0;
        for (int j = 0; j < assets; j++)
        {
            for (int s = 0; s < scan.Series.Count; s++)
            {
                int[] live = [.. Enumerable.Range(0, scan.Series[s].Bins).Select(b => counts[(scan.Row(s) + b) * assets + j])];
                FeatureDrift expected = DriftStatistics.Compare(scan.Series[s], live, missing[s * assets + j]);
                FeatureDrift actual = result[j, s];
                string what = $"asset {j} ({describe(j)}), series {s} ({scan.Series[s].Bins} bins)";
                Assert.Equal((expected.Count, expected.Missing, expected.DegreesOfFreedom), (actual.Count, actual.Missing, actual.DegreesOfFreedom));
                Close(expected.Psi, actual.Psi, 0, $"{what}: PSI");
                Close(expected.JensenShannon, actual.JensenShannon, 1e-7, $"{what}: Jensen-Shannon");
                Close(expected.Wasserstein, actual.Wasserstein, 1e-15, $"{what}: Wasserstein");
                Close(expected.ChiSquare, actual.ChiSquare, 0, $"{what}: chi-square");
                Close(expected.PValue, actual.PValue, 1e-300, $"{what}: p-value");
                p[s] = expected.PValue;
                vectorCells += DriftStatistics.UsesEveryBin(scan.Series[s], expected.Count) && scan.Series[s].Counts.All(c => c > 0) && scan.Series[s].Bins > 1 ? 1 : 0;
            }
            Assert.Equal(BenjaminiHochberg.Reject(p, 0.05, rejected), result.DriftingSeries[j]);
            for (int s = 0; s < scan.Series.Count; s++)
            {
                Assert.Equal(rejected[s], result.Drifting[result.Index(j, s)]);
            }
            flagged += result.DriftingSeries[j];
        }
        return (vectorCells, flagged);
    }

    private static void Close(double expected, double actual, double absolute, string what) =>
        Assert.True(double.IsNaN(expected) ? double.IsNaN(actual) : Math.Abs(expected - actual) <= Relative * Math.Abs(expected) + absolute,
            $"{what}: Compare {expected:R}, scan {actual:R}");
}
