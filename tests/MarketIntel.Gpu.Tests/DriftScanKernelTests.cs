using MarketIntel.Gpu.Drift;
using MarketIntel.Training.Drift;

namespace MarketIntel.Gpu.Tests;

public sealed class DriftScanKernelTests(CpuAcceleratorFixture accelerator) : IClassFixture<CpuAcceleratorFixture>
{
    // The kernel is Compare's arithmetic; the CPU scan's fast paths differ from Compare by up to 1e-11 relative, and the
    // device's logarithms may round differently from the host's: 1e-9 relative holds both with room. The Jensen-Shannon
    // distance is the root of a sum of terms of size 0.1 that cancel to about 1e-17 where live equals reference, so its
    // root carries about 3e-9 absolute noise on any path (the CPU scan's own tests allow 1e-7 there for the same reason).
    private const double Relative = 1e-9;
    private const double Alpha = 0.05;

    [Fact]
    public void Every_cell_equals_the_cpu_scan_on_odd_sizes_empty_short_and_all_missing_windows()
    {
        var random = new Random(11);
        FeatureReference[] series = Profile(random);
        var scan = new DriftScan(series);
        const int Assets = 67;
        var counts = new int[scan.Rows * Assets];
        var missing = new int[series.Length * Assets];
        var windows = new int[Assets];
        var values = new float[series.Length];
        for (int j = 0; j < Assets; j++)
        {
            // The counts as the grid gathers them: each asset's sliding window, written into the scan's layout. Empty
            // windows, windows shorter than the 40-bin series (more bins than values), short ones whose test merges
            // bins, full ones, and every fifth asset drifted; series 0 missing in every value of every seventh asset.
            windows[j] = (j % 9) switch { 0 => 0, 1 => 12, 2 => 39, 3 => 60, _ => random.Next(2) == 0 ? 500 : 3000 };
            double shift = j % 5 == 0 ? 0.5 : 0;
            var window = new DriftWindow(series, Math.Max(1, windows[j]));
            for (int v = 0; v < windows[j]; v++)
            {
                for (int s = 0; s < series.Length; s++)
                {
                    bool absent = (s == 0 && j % 7 == 3) || random.NextDouble() < 0.03;
                    values[s] = absent ? float.NaN : (float)(Normal(random) * 0.02 * (1 + shift) + (s % 2 == 0 ? shift * 0.02 : 0));
                }
                window.Add(values);
            }
            scan.Write(window, j, Assets, counts, missing);
        }

        DriftScanResult cpu = scan.Scan(counts, missing, Assets, Alpha);
        using var gpu = new GpuDriftScan(accelerator.Device, scan);
        DriftScanResult device = gpu.Scan(counts, missing, Assets, Alpha);

        int flagged = 0;
        for (int j = 0; j < Assets; j++)
        {
            for (int s = 0; s < series.Length; s++)
            {
                FeatureDrift expected = cpu[j, s], actual = device[j, s];
                string what = $"asset {j} (window {windows[j]}), series {s} ('{series[s].Name}', {series[s].Bins} bins)";
                Assert.Equal((expected.Count, expected.Missing, expected.DegreesOfFreedom), (actual.Count, actual.Missing, actual.DegreesOfFreedom));
                foreach (var (statistic, cpuValue, kernelValue, absolute) in (ReadOnlySpan<(string, double, double, double)>)[
                    ("PSI", expected.Psi, actual.Psi, 0), ("Jensen-Shannon", expected.JensenShannon, actual.JensenShannon, 1e-7),
                    ("Wasserstein", expected.Wasserstein, actual.Wasserstein, 1e-15), ("chi-square", expected.ChiSquare, actual.ChiSquare, 0),
                    ("p-value", expected.PValue, actual.PValue, 1e-300)])
                {
                    Close(cpuValue, kernelValue, absolute, $"{what}: {statistic}");
                }
                Assert.Equal(cpu.Drifting[cpu.Index(j, s)], device.Drifting[device.Index(j, s)]);
            }
            Assert.Equal(cpu.DriftingSeries[j], device.DriftingSeries[j]);
            flagged += device.DriftingSeries[j];
        }
        // The comparison covered the cases it means to: drifted cells flagged, empty and all-missing cells NaN.
        Assert.True(flagged > 20, $"only {flagged} cells flagged");
        Assert.True(double.IsNaN(device[0, 1].Psi) && device[0, 1].Count == 0);
        Assert.True(double.IsNaN(device[3, 0].Psi) && device[3, 0].Missing == windows[3]);
    }

    [Fact]
    public void No_assets_give_an_empty_result_and_bad_counts_are_refused_as_the_cpu_scan_refuses_them()
    {
        var random = new Random(3);
        var scan = new DriftScan(Profile(random));
        using var gpu = new GpuDriftScan(accelerator.Device, scan);
        Assert.Equal(0, gpu.Scan([], [], 0, Alpha).Assets);

        var counts = new int[scan.Rows * 2];
        var missing = new int[scan.Series.Count * 2];
        counts[(scan.Row(1) + 2) * 2 + 1] = -4;
        string cpu = Assert.Throws<ArgumentException>(() => scan.Scan(counts, missing, 2, Alpha)).Message;
        Assert.Equal(cpu, Assert.Throws<ArgumentException>(() => gpu.Scan(counts, missing, 2, Alpha)).Message);
        Assert.Contains("bin 2 asset 1 is -4", cpu, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => gpu.Scan(counts, missing, 3, Alpha));
        counts[(scan.Row(1) + 2) * 2 + 1] = 0;
        Assert.Throws<ArgumentOutOfRangeException>(() => gpu.Scan(counts, missing, 2, 0));
    }

    [Fact]
    public void A_reference_too_large_for_the_devices_64_bit_merging_test_is_refused_by_name()
    {
        var huge = new FeatureReference("huge", [0f], [3_000_000_000, 2_000_000_000], 0, -1f, 1f);
        var error = Assert.Throws<ArgumentException>(() => new GpuDriftScan(accelerator.Device, new DriftScan([huge])));
        Assert.Contains("series 0 ('huge')", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Normal features of 20, 5 and 40 bins, ties, a one-bin constant, a reference with an empty bin and one of no values.</summary>
    private static FeatureReference[] Profile(Random random)
    {
        float[] Values() => [.. Enumerable.Range(0, 5000).Select(_ => (float)(Normal(random) * 0.02))];
        return
        [
            ProfileBuilder.Reference("twenty", Values()),
            ProfileBuilder.Reference("five", Values(), 5),
            ProfileBuilder.Reference("forty", Values(), 40),
            ProfileBuilder.Reference("ties", [.. Values().Select(v => MathF.Round(v * 100))]),
            ProfileBuilder.Reference("twenty-b", Values()),
            ProfileBuilder.Reference("constant", [1f, 1f]),
            new FeatureReference("hand", [-0.01f, 0f, 0.01f], [1500, 0, 2000, 1500], 0, -0.08f, 0.08f),
            ProfileBuilder.Reference("ties-b", [.. Values().Select(v => MathF.Round(v * 50))]),
            ProfileBuilder.Reference("forty-b", Values(), 40),
            ProfileBuilder.Reference("never-seen", [float.NaN, float.NaN]),
            ProfileBuilder.Reference("five-b", Values(), 5),
            ProfileBuilder.Reference("twenty-c", Values()),
        ];
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static void Close(double expected, double actual, double absolute, string what) =>
        Assert.True(double.IsNaN(expected) ? double.IsNaN(actual) : Math.Abs(expected - actual) <= Relative * Math.Abs(expected) + absolute,
            $"{what}: CPU scan {expected:R}, GPU kernel {actual:R}");
}
