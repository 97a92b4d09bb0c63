using MarketIntel.Gpu.Drift;
using MarketIntel.Training.Drift;

namespace MarketIntel.GpuBench;

/// <summary>
/// The drift scan of the issue's size (100,000 assets x 40 features of 20 bins, windows of about 500 values): the CPU
/// scan as a worker runs it (<see cref="DriftScan"/>, one thread) against the kernel (counts to the device, the launch,
/// statistics back, p-values and flags on the host). Every cell is checked as the tests check it.
/// </summary>
internal static class DriftSection
{
    public static bool Run(BenchContext context)
    {
        int assets = context.Int("assets", context.Device.IsCuda ? 100_000 : 2_000, 1, 1_000_000);
        int features = context.Int("features", 40, 1, 1000);
        var random = new Random(25);
        var series = new FeatureReference[features];
        for (int s = 0; s < features; s++)
        {
            series[s] = ProfileBuilder.Reference($"f{s}", [.. Enumerable.Range(0, 20_000).Select(_ => (float)Normal(random))]);
        }
        var scan = new DriftScan(series);
        Console.WriteLine(BenchContext.Format($"== drift: {assets} assets x {features} features, {scan.Rows / features} bins each, windows of about 500 =="));
        var (counts, missing) = Counts(scan, assets);

        DriftScanResult cpu = scan.Scan(counts, missing, assets, 0.05);
        using var gpuScan = new GpuDriftScan(context.Device, scan);
        DriftScanResult gpu = gpuScan.Scan(counts, missing, assets, 0.05);
        int runs = context.Device.IsCuda ? 3 : 1;
        double cpuSeconds = BenchContext.Best(runs, () => cpu = scan.Scan(counts, missing, assets, 0.05));
        double gpuSeconds = BenchContext.Best(runs, () => gpu = gpuScan.Scan(counts, missing, assets, 0.05));

        // As the tests: counts, degrees of freedom and flags exact; statistics 1e-9 relative (Jensen-Shannon 1e-7 absolute
        // besides, for the root of a cancelling sum).
        int bad = 0;
        double worst = 0;
        for (int i = 0; i < cpu.Count.Length; i++)
        {
            bool same = cpu.Count[i] == gpu.Count[i] && cpu.DegreesOfFreedom[i] == gpu.DegreesOfFreedom[i] && cpu.Drifting[i] == gpu.Drifting[i];
            foreach (var (a, b, absolute) in (ReadOnlySpan<(double, double, double)>)[(cpu.Psi[i], gpu.Psi[i], 0), (cpu.JensenShannon[i], gpu.JensenShannon[i], 1e-7),
                (cpu.Wasserstein[i], gpu.Wasserstein[i], 1e-15), (cpu.ChiSquare[i], gpu.ChiSquare[i], 0), (cpu.PValue[i], gpu.PValue[i], 1e-300)])
            {
                if (double.IsNaN(a) || double.IsNaN(b))
                {
                    same &= double.IsNaN(a) && double.IsNaN(b);
                    continue;
                }
                double error = Math.Abs(a - b);
                same &= error <= 1e-9 * Math.Abs(a) + absolute;
                worst = Math.Max(worst, a == 0 ? 0 : error / Math.Abs(a));
            }
            bad += same ? 0 : 1;
        }
        int flagged = cpu.DriftingSeries.Sum();
        Console.WriteLine(BenchContext.Format($"check: {cpu.Count.Length} cells ({flagged} flagged), {bad} outside the tolerance, largest relative difference {worst:G3}: {(bad == 0 ? "ok" : "FAILED")}"));
        Console.WriteLine(BenchContext.Format($"cpu scan (one thread, as a worker runs it): {cpuSeconds:F3} s"));
        Console.WriteLine(BenchContext.Format($"{context.DeviceLabel}: {gpuSeconds:F3} s (counts copied in, statistics out, p-values and flags on the host included), {cpuSeconds / gpuSeconds:F2}x the cpu scan"));
        return bad == 0;
    }

    // Windows of 450 to 550 values near each reference's shares, every tenth asset shifted by a bin in half its series.
    private static (int[] Counts, int[] Missing) Counts(DriftScan scan, int assets)
    {
        var counts = new int[scan.Rows * assets];
        var missing = new int[scan.Series.Count * assets];
        Parallel.For(0, assets, j =>
        {
            var random = new Random(j);
            int window = 450 + random.Next(101);
            for (int s = 0; s < scan.Series.Count; s++)
            {
                FeatureReference reference = scan.Series[s];
                int shift = j % 10 == 0 && s % 2 == 0 ? 1 : 0;
                for (int b = 0; b < reference.Bins; b++)
                {
                    double expected = window * (double)reference.Counts[b] / reference.Present;
                    int at = Math.Min(reference.Bins - 1, b + shift);
                    counts[(scan.Row(s) + at) * assets + j] += Math.Max(0, (int)Math.Round(expected + (Normal(random) * Math.Sqrt(expected))));
                }
                missing[s * assets + j] = random.Next(3);
            }
        });
        return (counts, missing);
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
