using ILGPU;
using ILGPU.Runtime;
using MarketIntel.Gpu.Training;
using MarketIntel.Training;

namespace MarketIntel.GpuBench;

/// <summary>
/// Training on the device against the CPU booster (issue 25: 10M rows x 50 features, depth 8, 256 bins, 200 rounds on
/// a CUDA device): the same data and parameters through <see cref="GradientBooster.Train"/> with and without
/// <see cref="GpuHistogramDevice"/>, whose held-out losses must agree within 0.5%; and the histogram kernel's
/// throughput as a share of the device's copy bandwidth, after its root histogram is checked against host sums.
/// </summary>
internal static class TrainingSection
{
    public static bool Run(BenchContext context)
    {
        bool cuda = context.Device.IsCuda;
        int rows = context.Int("rows", cuda ? 10_000_000 : 20_000, 100, 40_000_000);
        int features = context.Int("features", cuda ? 50 : 10, 1, 1000);
        int rounds = context.Int("rounds", cuda ? 200 : 5, 1, 10_000);
        int depth = context.Int("depth", cuda ? 8 : 4, 1, 16);
        int held = Math.Min(200_000, rows / 10);
        int train = rows - held;
        Console.WriteLine(BenchContext.Format($"== training: {train} rows x {features} features (2% missing), binary:logistic, depth {depth}, 256 bins, {rounds} rounds; {held} rows held out =="));
        (float[] x, float[] y) = Data(rows, features);
        string[] names = [.. Enumerable.Range(0, features).Select(f => $"f{f}")];
        var parameters = new BoostParameters { MaxDepth = depth, Rounds = rounds, MaxBin = 256 };

        bool ok = Histogram(context, x.AsSpan(0, train * features), y.AsSpan(0, train), features);

        BoostedTrees? onCpu = null, onDevice = null;
        double cpuSeconds = BenchContext.Best(1, () => onCpu = GradientBooster.Train(x.AsSpan(0, train * features), names, y.AsSpan(0, train), parameters));
        double gpuSeconds = BenchContext.Best(1, () =>
        {
            using var device = new GpuHistogramDevice(context.Device.Accelerator);
            onDevice = GradientBooster.Train(x.AsSpan(0, train * features), names, y.AsSpan(0, train), parameters, device: device);
        });
        double cpuLoss = LogLoss(onCpu!, x, y, train, rows, features), gpuLoss = LogLoss(onDevice!, x, y, train, rows, features);
        bool close = Math.Abs(gpuLoss - cpuLoss) <= 0.005 * cpuLoss;
        Console.WriteLine(BenchContext.Format($"check: held-out log loss {gpuLoss:F6} on the device, {cpuLoss:F6} on the cpu path, limit 0.5%: {(close ? "ok" : "FAILED")}"));
        Console.WriteLine(BenchContext.Format($"cpu path ({Environment.ProcessorCount} threads): {cpuSeconds:F2} s"));
        Console.WriteLine(BenchContext.Format($"{context.DeviceLabel}: {gpuSeconds:F2} s (binning on the host; gradients and margins on the device, histograms down each level, split finding on the host), {cpuSeconds / gpuSeconds:F2}x the cpu path"));
        return ok && close;
    }

    /// <summary>The root histogram of one round's gradients: checked against host sums, then the kernel alone timed against a device-to-device copy.</summary>
    private static bool Histogram(BenchContext context, ReadOnlySpan<float> x, ReadOnlySpan<float> y, int features)
    {
        int rows = y.Length;
        QuantizedMatrix q = QuantizedMatrix.Build(x, features, 256, threads: 0);
        var pairs = new float[2 * rows];
        for (int r = 0; r < rows; r++)
        {
            pairs[2 * r] = 0.5f - y[r];   // the first round's logistic gradients, from a margin of 0
            pairs[2 * r + 1] = 0.25f;
        }
        int slots = Enumerable.Range(0, features).Sum(q.BinCount);
        var root = new double[2 * slots];
        using var device = new GpuHistogramDevice(context.Device.Accelerator);
        device.Load(q);
        device.StartTree(pairs, null, rows, root);

        // Every slot within rows / (2 x scale) of the exact sum, as the tests check.
        var exact = new double[2 * slots];
        for (int r = 0; r < rows; r++)
        {
            int start = 0;
            for (int f = 0; f < features; f++)
            {
                int s = start + q.Bin(r, f);
                exact[2 * s] += pairs[2 * r];
                exact[2 * s + 1] += pairs[2 * r + 1];
                start += q.BinCount(f);
            }
        }
        double limit = rows / (2 * Math.Min(device.Scale.GradientScale, device.Scale.HessianScale)) + 1e-12 * rows;
        double worst = 0;
        for (int i = 0; i < exact.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(exact[i] - root[i]));
        }
        bool ok = worst <= limit;

        long bytes = device.RebuildRootHistogram();   // the first launch compiles the kernel
        int runs = context.Device.IsCuda ? 5 : 1;
        double kernel = BenchContext.Best(runs, () => device.RebuildRootHistogram());
        Accelerator accelerator = context.Device.Accelerator;
        using MemoryBuffer1D<byte, Stride1D.Dense> from = accelerator.Allocate1D<byte>(bytes), to = accelerator.Allocate1D<byte>(bytes);
        from.AsContiguous().MemSetToZero();
        double copy = BenchContext.Best(runs, () =>
        {
            from.AsContiguous().CopyTo(to.AsContiguous());
            accelerator.Synchronize();
        });
        double histogramRate = bytes / kernel, copyRate = 2.0 * bytes / copy;   // a copy reads and writes each byte
        Console.WriteLine(BenchContext.Format($"check: root histogram of {rows} rows, largest difference from host sums {worst:G3}, limit {limit:G3}: {(ok ? "ok" : "FAILED")}"));
        Console.WriteLine(BenchContext.Format($"{context.DeviceLabel}: histogram kernel {kernel * 1e3:F2} ms reading {bytes / 1e9:F3} GB, {histogramRate / 1e9:G3} GB/s; device copy {copyRate / 1e9:G3} GB/s (read + write); histogram at {100 * histogramRate / copyRate:F0}% of copy bandwidth"));
        return ok;
    }

    // Uniform features, 2% missing; the label depends on four of them through a logistic link, from fixed seeds per block.
    private static (float[] X, float[] Y) Data(int rows, int features)
    {
        var x = new float[(long)rows * features];
        var y = new float[rows];
        const int Block = 65_536;
        Parallel.For(0, (rows + Block - 1) / Block, b =>
        {
            var random = new Random(1000 + b);
            for (int r = b * Block; r < Math.Min(rows, (b + 1) * Block); r++)
            {
                for (int f = 0; f < features; f++)
                {
                    x[(long)r * features + f] = random.NextDouble() < 0.02 ? float.NaN : (float)random.NextDouble();
                }
                double Value(int f) => f < features && !float.IsNaN(x[(long)r * features + f]) ? x[(long)r * features + f] : 0.5;
                double margin = 4 * (Value(0) - 0.5) + 3 * (Value(1) - 0.5) * (Value(2) - 0.5) * 4 + (Value(3) > 0.7 ? 1 : -0.3);
                y[r] = random.NextDouble() < 1 / (1 + Math.Exp(-margin)) ? 1 : 0;
            }
        });
        return (x, y);
    }

    private static double LogLoss(BoostedTrees model, float[] x, float[] y, int from, int to, int features)
    {
        double sum = 0;
        for (int r = from; r < to; r++)
        {
            double p = Math.Clamp(model.Predict(x.AsSpan(r * features, features)), 1e-15, 1 - 1e-15);
            sum -= y[r] * Math.Log(p) + (1 - y[r]) * Math.Log(1 - p);
        }
        return sum / (to - from);
    }
}
