using System.Globalization;
using MarketIntel.CommandLine;
using MarketIntel.LoadTest;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel loadtest</c>: measures a target's throughput and latency under a closed- or open-loop load —
/// the grid's gRPC Predict/PredictBatch, or any HTTP URL template, so other stacks can be measured the same way.
/// </summary>
internal static class LoadTestCommand
{
    public const string Usage = "marketintel loadtest --target grpc[s]://HOST:PORT|'http[s]://HOST:PORT/predict/{asset}' [--connections 32] [--streams 1] [--rate R] "
        + "[--duration 10s | --requests N] [--warmup 2s] [--timeout 10s] [--assets 1000 | --symbols A,B,...] [--zipf S] [--batch K] "
        + "[--seed-assets N --features F] [--seed 1] [--json FILE] [--api-key KEY] [--tls-ca CA.pem]";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        // Socket completions run on the thread that polled them rather than hopping to the thread pool: the load
        // generator then costs the machine about as little as wrk's event loop (on a 2-core machine shared with the
        // server, 80k instead of 63k requests/s against the grid; docs/performance.md). Read at the first socket
        // operation; an explicit setting in the environment wins.
        if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
        {
            Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
        }
        var options = CliArguments.Parse(args,
            ["target", "connections", "streams", "rate", "duration", "requests", "warmup", "timeout", "assets", "symbols", "zipf", "batch", "seed-assets", "features", "seed", "json", "api-key", "tls-ca"]);
        LoadTestSettings settings = LoadTestOptions.Parse(options);
        string? jsonPath = options.Optional("json");
        if (jsonPath is not null && Path.GetDirectoryName(Path.GetFullPath(jsonPath)) is { } folder && !Directory.Exists(folder))
        {
            throw new UsageException($"--json '{jsonPath}': folder '{folder}' does not exist");
        }

        using ILoadTarget target = LoadTargets.Create(settings);
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // Ctrl+C ends the run early; what was measured so far is still reported. A second one ends the process.
            if (!stop.IsCancellationRequested)
            {
                e.Cancel = true;
                stop.Cancel();
            }
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            if (settings.SeedAssets > 0)
            {
                target.SeedAsync(settings.SeedAssets, i => RandomVector(settings.Seed, i, settings.Features), stop.Token).GetAwaiter().GetResult();
                stdout.WriteLine($"seeded {settings.SeedAssets} assets ({settings.AssetName(0)}..{settings.AssetName(settings.SeedAssets - 1)}) with random vectors of {settings.Features} features");
            }
            LoadRunner.PreflightAsync(target, settings, stop.Token).GetAwaiter().GetResult();

            bool live = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
            Action<ProgressSample>? progress = live ? p => stderr.Write(ProgressLine(p)) : null;
            LoadResult result = LoadRunner.RunAsync(settings, target, progress, stop.Token).GetAwaiter().GetResult();
            if (live)
            {
                stderr.Write("\r" + new string(' ', 78) + "\r");
            }
            LoadReport.WriteTable(result, stdout);
            if (jsonPath is not null)
            {
                LoadReport.WriteJson(result, jsonPath);
                stdout.WriteLine($"wrote {jsonPath}");
            }
            if (result.Predictions == 0 && !stop.IsCancellationRequested)
            {
                // Figures of nothing but failures are rarely what a script wants to carry on with.
                stderr.WriteLine("marketintel loadtest: no request succeeded (see the errors above)");
                return 1;
            }
            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            stderr.WriteLine("marketintel loadtest: stopped before the load started");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static string ProgressLine(ProgressSample p) => string.Format(CultureInfo.InvariantCulture,
        "\r{0,7:0.0} s  {1,-9} {2,10:#,0} req/s  p99 {3,9} ms  errors {4:#,0}   ",
        p.ElapsedSeconds, p.WarmingUp ? "warm-up" : "measuring", p.RequestsPerSecond,
        double.IsNaN(p.IntervalP99Ms) ? "-" : p.IntervalP99Ms.ToString("0.000", CultureInfo.InvariantCulture), p.Errors);

    /// <summary>Asset <paramref name="asset"/>'s seeded vector: standard normal values, the same for the same seed.</summary>
    public static float[] RandomVector(int seed, int asset, int features)
    {
        var random = new Random(unchecked(seed * 1_000_003 + asset));
        var vector = new float[features];
        for (int i = 0; i < features; i++)
        {
            // Box-Muller.
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            vector[i] = (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return vector;
    }
}
