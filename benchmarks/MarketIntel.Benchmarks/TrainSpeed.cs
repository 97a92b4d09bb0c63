using System.Diagnostics;
using System.Globalization;
using MarketIntel.CommandLine;
using MarketIntel.Training;

namespace MarketIntel.Benchmarks;

/// <summary>
/// Whole-training time of the histogram booster on generated data (the issue's size: 200,000 rows x 30 features,
/// depth 6, 200 rounds, 2 threads), and the same data as CSV for benchmarks/training/xgboost_time.py.
/// usage: train-speed [--rows 200000] [--features 30] [--rounds 200] [--threads 2] [--csv FILE]
/// </summary>
internal static class TrainSpeed
{
    public static int Run(string[] args)
    {
        var options = CliArguments.Parse(args.AsSpan(1), ["rows", "features", "rounds", "threads", "csv"]);
        int rows = options.OptionalInt("rows", 1, 100_000_000) ?? 200_000;
        int features = options.OptionalInt("features", 1, 10_000) ?? 30;
        int rounds = options.OptionalInt("rounds", 1, 100_000) ?? 200;
        int threads = options.OptionalInt("threads", 1, 1024) ?? 2;
        var random = new Random(42);
        var x = new float[rows * features];
        var y = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            double signal = 0;
            for (int f = 0; f < features; f++)
            {
                double v = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                x[r * features + f] = random.NextDouble() < 0.02 ? float.NaN : (float)v;
                signal += f % 3 == 0 ? 0.3 * v : f % 3 == 1 ? 0.2 * v * v - 0.2 : 0;
            }
            y[r] = signal + random.NextDouble() - 0.5 > 0 ? 1 : 0;
        }
        string[] names = Enumerable.Range(0, features).Select(f => "f" + f.ToString(CultureInfo.InvariantCulture)).ToArray();
        if (options.Optional("csv") is { } csv)
        {
            using var w = new StreamWriter(csv);
            w.WriteLine("label," + string.Join(",", names));
            for (int r = 0; r < rows; r++)
            {
                w.WriteLine(y[r].ToString(CultureInfo.InvariantCulture) + "," + string.Join(",", Enumerable.Range(0, features).Select(f =>
                    float.IsNaN(x[r * features + f]) ? "" : x[r * features + f].ToString("R", CultureInfo.InvariantCulture))));
            }
        }
        var parameters = new BoostParameters { MaxDepth = 6, Rounds = rounds, Threads = threads };
        // Cutting features into bins alone (Train does it again, inside the timed whole).
        var cutClock = Stopwatch.StartNew();
        QuantizedMatrix.Build(x, features, parameters.MaxBin, threads);
        double cutSeconds = cutClock.Elapsed.TotalSeconds;
        var clock = Stopwatch.StartNew();
        BoostedTrees model = GradientBooster.Train(x, names, y, parameters);
        double seconds = clock.Elapsed.TotalSeconds;
        double loss = 0;
        for (int r = 0; r < rows; r++)
        {
            double p = Math.Clamp(model.Predict(x.AsSpan(r * features, features)), 1e-15, 1 - 1e-15);
            loss -= y[r] * Math.Log(p) + (1 - y[r]) * Math.Log(1 - p);
        }
        Console.WriteLine($"trained {rows} rows x {features} features, depth 6, {rounds} rounds, {threads} threads in {seconds:F2} s (train log loss {loss / rows:F5}; binning alone {cutSeconds:F2} s, first run)");
        return 0;
    }
}
