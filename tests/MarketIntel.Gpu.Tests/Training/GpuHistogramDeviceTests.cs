using MarketIntel.Gpu.Training;
using MarketIntel.Training;
using MarketIntel.Training.Devices;

namespace MarketIntel.Gpu.Tests.Training;

/// <summary>
/// The histogram and partition kernels on ILGPU's CPU accelerator against sums worked out row by row on the host:
/// the device's fixed-point histograms equal the host's fixed-point sums to the bit, and are within
/// rows / (2 x scale) of the exact double sums (the rounding of <see cref="FixedPoint"/>); the partition sends
/// each row where the split says, keeping the rows' order.
/// </summary>
public sealed class GpuHistogramDeviceTests(CpuAcceleratorFixture cpu) : IClassFixture<CpuAcceleratorFixture>
{
    [Theory]
    [InlineData(1, 3, 256)]         // one row
    [InlineData(7, 4, 256)]         // more bins than rows? no: few rows, each value its own bin
    [InlineData(300, 5, 256)]
    [InlineData(2500, 3, 5000)]     // two-byte bins, and a feature of ~2500 bins across two shared-memory windows
    public void Root_histograms_equal_the_hosts_fixed_point_sums_to_the_bit(int rows, int features, int maxBin)
    {
        (QuantizedMatrix q, float[] pairs) = Setup(rows, features, maxBin, seed: rows + features, allMissing: features - 1);
        using var device = new GpuHistogramDevice(cpu.Device.Accelerator);
        device.Load(q);
        var hist = new double[2 * Slots(q)];
        device.StartTree(pairs, null, rows, hist);

        int[] all = Enumerable.Range(0, rows).ToArray();
        Assert.Equal(HostFixed(q, pairs, all, device.Scale), device.LevelHistogram(0));
        AssertNearExact(q, pairs, all, device.Scale, hist);
    }

    [Fact]
    public void More_bins_than_rows_and_a_feature_of_missing_values_only_are_counted_where_they_belong()
    {
        // 5 rows, max_bin 64: every value its own bin; feature 1 all missing, so all its rows are in bin 0.
        (QuantizedMatrix q, float[] pairs) = Setup(5, 2, 64, seed: 3, allMissing: 1);
        Assert.Empty(q.Cuts[1]);
        using var device = new GpuHistogramDevice(cpu.Device.Accelerator);
        device.Load(q);
        var hist = new double[2 * Slots(q)];
        device.StartTree(pairs, null, 5, hist);
        int missingSlot = q.BinCount(0);
        double g = 0;
        for (int r = 0; r < 5; r++)
        {
            g += pairs[2 * r];
        }
        Assert.Equal(g, hist[2 * missingSlot], 6);
        Assert.Equal(HostFixed(q, pairs, [0, 1, 2, 3, 4], device.Scale), device.LevelHistogram(0));
    }

    [Fact]
    public void A_level_split_partitions_rows_stably_and_gives_both_childrens_histograms_by_subtraction()
    {
        const int rows = 9000;   // several partition chunks and histogram blocks per node
        (QuantizedMatrix q, float[] pairs) = Setup(rows, 4, 256, seed: 11, allMissing: -1);
        int[] sample = Enumerable.Range(0, rows).Where(r => r % 3 != 1).ToArray();   // a subsample
        using var device = new GpuHistogramDevice(cpu.Device.Accelerator);
        device.Load(q);
        int slots = Slots(q);
        device.StartTree(pairs, sample, sample.Length, new double[2 * slots]);

        // Level 1: the root splits on feature 0 after bin 100, missing right.
        var first = new DeviceSplit(0, 100, false);
        var counts = new int[1];
        double[][] children = [new double[2 * slots], new double[2 * slots]];
        device.SplitLevel([first], counts, children);
        int[] left = sample.Where(r => GoesLeft(q, r, first)).ToArray();
        int[] right = sample.Where(r => !GoesLeft(q, r, first)).ToArray();
        Assert.Equal(left.Length, counts[0]);
        Assert.Equal(left, device.LevelRows(0));    // in sample order: the partition is stable
        Assert.Equal(right, device.LevelRows(1));
        Assert.Equal(HostFixed(q, pairs, left, device.Scale), device.LevelHistogram(0));
        Assert.Equal(HostFixed(q, pairs, right, device.Scale), device.LevelHistogram(1));
        AssertNearExact(q, pairs, left, device.Scale, children[0]);
        AssertNearExact(q, pairs, right, device.Scale, children[1]);

        // Level 2: the left child stays a leaf; the right one splits with every row going left (an empty right
        // child), missing values left.
        var second = new DeviceSplit(1, q.BinCount(1) - 1, true);   // every value bin, and missing, left
        counts = new int[2];
        children = [new double[2 * slots], new double[2 * slots]];
        device.SplitLevel([DeviceSplit.Leaf, second], counts, children);
        Assert.Equal(right.Length, counts[1]);
        Assert.Equal(right, device.LevelRows(0));
        Assert.Empty(device.LevelRows(1));
        Assert.Equal(HostFixed(q, pairs, right, device.Scale), device.LevelHistogram(0));
        Assert.All(device.LevelHistogram(1), v => Assert.Equal(0, v));

        // Level 3, the last: only counts come back.
        var third = new DeviceSplit(2, 40, true);
        counts = new int[2];
        device.SplitLevel([third, DeviceSplit.Leaf], counts, null);
        Assert.Equal(right.Count(r => GoesLeft(q, r, third)), counts[0]);
    }

    [Fact]
    public void Bad_calls_are_refused_naming_what_is_wrong()
    {
        (QuantizedMatrix q, float[] pairs) = Setup(10, 2, 16, seed: 1, allMissing: -1);
        using var device = new GpuHistogramDevice(cpu.Device.Accelerator);
        var hist = new double[2 * Slots(q)];
        Assert.Contains("before Load", Assert.Throws<InvalidOperationException>(() => device.StartTree(pairs, null, 10, hist)).Message);
        device.Load(q);
        Assert.Contains("20 gradient values (got 18)", Assert.Throws<ArgumentException>(() => device.StartTree(pairs.AsSpan(2), null, 10, hist)).Message);
        device.StartTree(pairs, null, 10, hist);
        Assert.Contains("the level has 1 nodes; got 2 splits", Assert.Throws<ArgumentException>(() => device.SplitLevel([DeviceSplit.Leaf, DeviceSplit.Leaf], new int[2], null)).Message);
    }

    private static (QuantizedMatrix Matrix, float[] Pairs) Setup(int rows, int features, int maxBin, int seed, int allMissing)
    {
        var random = new Random(seed);
        var x = new float[rows * features];
        for (int i = 0; i < x.Length; i++)
        {
            int f = i % features;
            x[i] = f == allMissing || random.NextDouble() < 0.1 ? float.NaN : (float)random.NextDouble();
        }
        var pairs = new float[2 * rows];
        for (int r = 0; r < rows; r++)
        {
            pairs[2 * r] = (float)(random.NextDouble() * 2 - 1);
            pairs[2 * r + 1] = (float)(random.NextDouble() * 0.25);
        }
        return (QuantizedMatrix.Build(x, features, maxBin, threads: 1), pairs);
    }

    private static int Slots(QuantizedMatrix q) => Enumerable.Range(0, q.Features).Sum(q.BinCount);

    private static bool GoesLeft(QuantizedMatrix q, int row, DeviceSplit split)
    {
        int bin = q.Bin(row, split.Feature);
        return bin == 0 ? split.DefaultLeft : bin <= split.Bin;
    }

    /// <summary>The fixed-point histogram of <paramref name="rows"/>, summed in order on the host.</summary>
    private static long[] HostFixed(QuantizedMatrix q, float[] pairs, int[] rows, FixedPoint scale)
    {
        var hist = new long[2 * Slots(q)];
        foreach (int r in rows)
        {
            int start = 0;
            for (int f = 0; f < q.Features; f++)
            {
                int s = start + q.Bin(r, f);
                hist[2 * s] += FixedPoint.ToFixed(pairs[2 * r], scale.GradientScale);
                hist[2 * s + 1] += FixedPoint.ToFixed(pairs[2 * r + 1], scale.HessianScale);
                start += q.BinCount(f);
            }
        }
        return hist;
    }

    /// <summary>Each slot within (rows in it) / (2 x scale) of the double sum the CPU booster builds, plus double rounding.</summary>
    private static void AssertNearExact(QuantizedMatrix q, float[] pairs, int[] rows, FixedPoint scale, double[] hist)
    {
        int slots = Slots(q);
        var exact = new double[2 * slots];
        var count = new int[slots];
        foreach (int r in rows)
        {
            int start = 0;
            for (int f = 0; f < q.Features; f++)
            {
                int s = start + q.Bin(r, f);
                exact[2 * s] += pairs[2 * r];
                exact[2 * s + 1] += pairs[2 * r + 1];
                count[s]++;
                start += q.BinCount(f);
            }
        }
        for (int s = 0; s < slots; s++)
        {
            double gTolerance = count[s] / (2 * scale.GradientScale) + 1e-12 * count[s];
            double hTolerance = count[s] / (2 * scale.HessianScale) + 1e-12 * count[s];
            Assert.True(Math.Abs(hist[2 * s] - exact[2 * s]) <= gTolerance, $"slot {s}: g {hist[2 * s]} against {exact[2 * s]}");
            Assert.True(Math.Abs(hist[2 * s + 1] - exact[2 * s + 1]) <= hTolerance, $"slot {s}: h {hist[2 * s + 1]} against {exact[2 * s + 1]}");
        }
    }
}
