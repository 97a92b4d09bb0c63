using System.IO.Compression;
using MarketIntel.Gpu.Inference;
using MarketIntel.Inference;

namespace MarketIntel.GpuBench;

/// <summary>
/// Batch inference of the issue's model (300 trees of depth 6 over 40 features) on random rows with 2% missing values:
/// the CPU path on every core (the model's batch evaluator over row blocks in parallel) against the kernel, end to end
/// (rows to the device, the launch, margins back, the objective's transform on the host). Every output is checked.
/// </summary>
internal static class InferenceSection
{
    private const float Tolerance = 1e-6f;

    public static bool Run(BenchContext context)
    {
        int rowCount = context.Int("rows", context.Device.IsCuda ? 10_000_000 : 20_000, 1, 20_000_000);
        using Model model = Model.Load(ModelBytes(), "bench-d6-n300-f40");
        int f = model.FeatureCount;
        Console.WriteLine(BenchContext.Format($"== inference: bench-d6-n300-f40 ({f} features), {rowCount} rows, 2% missing =="));
        float[] rows = Rows(rowCount, f);
        float[] cpu = new float[rowCount], gpu = new float[rowCount];

        const int Block = 16_384;
        void CpuBatch() => Parallel.For(0, (rowCount + Block - 1) / Block, b =>
        {
            int start = b * Block, count = Math.Min(Block, rowCount - start);
            model.PredictBatch(rows.AsSpan(start * f, count * f), cpu.AsSpan(start, count));
        });
        using var ensemble = new GpuTreeEnsemble(context.Device, model);
        // Warm-up: the kernel compiles on its first launch, the CPU path's code tiers up.
        ensemble.PredictBatch(rows.AsSpan(0, Math.Min(rowCount, 1024) * f), gpu.AsSpan(0, Math.Min(rowCount, 1024)));
        CpuBatch();
        int runs = context.Device.IsCuda ? 3 : 1;
        double cpuSeconds = BenchContext.Best(runs, CpuBatch);
        double gpuSeconds = BenchContext.Best(runs, () => ensemble.PredictBatch(rows, gpu));

        float worst = 0;
        int worstRow = -1;
        for (int r = 0; r < rowCount; r++)
        {
            float difference = Math.Abs(cpu[r] - gpu[r]);
            if (!(difference <= worst))
            {
                (worst, worstRow) = (difference, r);
            }
        }
        bool ok = worst <= Tolerance;
        Console.WriteLine(BenchContext.Format($"check: {rowCount} rows, largest difference from the CPU path {worst:G3}{(worstRow >= 0 ? $" (row {worstRow})" : "")}, limit {Tolerance:G1}: {(ok ? "ok" : "FAILED")}"));
        Console.WriteLine(BenchContext.Format($"cpu path ({Environment.ProcessorCount} threads): {cpuSeconds:F3} s, {rowCount / cpuSeconds / 1e6:F2}M rows/s"));
        Console.WriteLine(BenchContext.Format($"{context.DeviceLabel}: {gpuSeconds:F3} s, {rowCount / gpuSeconds / 1e6:F2}M rows/s (rows copied in and predictions out included), {cpuSeconds / gpuSeconds:F2}x the cpu path"));
        return ok;
    }

    // Standard normal values (the model was trained on such), 2% missing, from a fixed seed per block of rows.
    private static float[] Rows(int count, int features)
    {
        float[] rows = new float[(long)count * features];
        const int Block = 65_536;
        Parallel.For(0, (count + Block - 1) / Block, b =>
        {
            var random = new Random(b);
            int start = b * Block * features, end = (int)Math.Min(rows.LongLength, (long)(b + 1) * Block * features);
            for (int i = start; i < end; i++)
            {
                rows[i] = random.NextDouble() < 0.02 ? float.NaN : (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
            }
        });
        return rows;
    }

    private static byte[] ModelBytes()
    {
        using var gz = new GZipStream(File.OpenRead(Path.Combine(AppContext.BaseDirectory, "bench-d6-n300-f40.json.gz")), CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gz.CopyTo(bytes);
        return bytes.ToArray();
    }
}
