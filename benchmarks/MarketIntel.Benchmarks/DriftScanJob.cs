using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using MarketIntel.CommandLine;
using MarketIntel.Training.Drift;

namespace MarketIntel.Benchmarks;

/// <summary>
/// The batch drift scan timed on data that benchmarks/drift/drift_job.py (SciPy and NumPy, column by column) reads too:
/// <c>--generate</c> writes DIR/profile.json (40 features of 20 bins from 20,000 reference rows) and the live counts of
/// every asset (DIR/counts.i32, DIR/missing.i32: little-endian int32 in <see cref="DriftScan"/>'s layout); without it the
/// scan is timed on DIR's data, one thread, and its statistics written to DIR/scan.f64 for the Python job to compare.
/// usage: drift-scan --data DIR [--generate] [--assets 10000] [--window 500] [--runs 20]
/// </summary>
internal static class DriftScanJob
{
    public static int Run(string[] args)
    {
        var options = CliArguments.Parse(args.AsSpan(1), ["data", "assets", "window", "runs"], flags: ["generate"]);
        string directory = options.Required("data");
        int runs = options.OptionalInt("runs", 1, 10_000) ?? 20;
        if (options.Flag("generate"))
        {
            int assets = options.OptionalInt("assets", 1, 1_000_000) ?? 10_000;
            int window = options.OptionalInt("window", 1, 1_000_000) ?? 500;
            (FeatureReference[] series, _, int[] counts, int[] missing) = DriftData.Scan(assets, window, seed: 763);
            Directory.CreateDirectory(directory);
            File.WriteAllText(Path.Combine(directory, "profile.json"), new ReferenceProfile(series, null, 20_000, "drift benchmark: standard normal rows").ToJson());
            File.WriteAllBytes(Path.Combine(directory, "counts.i32"), MemoryMarshal.AsBytes(counts.AsSpan()).ToArray());
            File.WriteAllBytes(Path.Combine(directory, "missing.i32"), MemoryMarshal.AsBytes(missing.AsSpan()).ToArray());
            Console.WriteLine($"generated {assets} assets x {series.Length} features x 20 bins, windows of {window}, in {directory}");
            return 0;
        }
        ReferenceProfile profile = ReferenceProfile.Parse(File.ReadAllText(Path.Combine(directory, "profile.json")));
        int[] liveCounts = MemoryMarshal.Cast<byte, int>(File.ReadAllBytes(Path.Combine(directory, "counts.i32"))).ToArray();
        int[] liveMissing = MemoryMarshal.Cast<byte, int>(File.ReadAllBytes(Path.Combine(directory, "missing.i32"))).ToArray();
        var scan = new DriftScan(profile.Features);
        int assetCount = liveMissing.Length / profile.Features.Count;
        var result = new DriftScanResult(assetCount, profile.Features.Count);
        var wall = new double[runs];
        var cpu = new double[runs];
        scan.Scan(liveCounts, liveMissing, 0.05, result);   // the first run compiles
        using var process = Process.GetCurrentProcess();
        for (int r = 0; r < runs; r++)
        {
            process.Refresh();
            TimeSpan cpuBefore = process.TotalProcessorTime;
            long started = Stopwatch.GetTimestamp();
            scan.Scan(liveCounts, liveMissing, 0.05, result);
            wall[r] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            process.Refresh();
            cpu[r] = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds;
        }
        using (var output = File.Create(Path.Combine(directory, "scan.f64")))
        {
            foreach (double[] statistic in new[] { result.Psi, result.JensenShannon, result.Wasserstein, result.ChiSquare, result.PValue })
            {
                output.Write(MemoryMarshal.AsBytes(statistic.AsSpan()));
            }
        }
        Array.Sort(wall);
        Array.Sort(cpu);
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"C# DriftScan: {assetCount} assets x {profile.Features.Count} features x 20 bins, every statistic, p-value and BH flag, one thread: " +
            $"{wall[0]:F1} ms best, {wall[runs / 2]:F1} ms median of {runs} (CPU time {cpu[0]:F1} best, {cpu[runs / 2]:F1} median); " +
            $"{result.DriftingSeries.Count(d => d > 0)} assets drifting; load average {load}"));
        return 0;
    }
}
