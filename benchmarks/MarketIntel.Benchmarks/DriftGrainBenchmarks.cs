using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Inference;
using MarketIntel.Training.Drift;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Benchmarks;

/// <summary>
/// What drift tracking adds to an asset grain's bar path in a real host, with the speed model (300 trees of
/// depth 6 over 40 pushed features) served to assets whose version has a reference profile (drift tracked: the 40
/// inputs and the prediction counted into a window of 500 bars) and to assets whose version has none (baseline).
/// Scored (labelled <c>up_1</c>): the version predicts after every bar for scoring anyway, so drift adds the window
/// alone. Not scored: drift also makes the prediction after each bar that nothing else asked for. Time per bar in
/// calls of 100 bars (the grain's own work per bar), with the window evaluated every 50 bars and never.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[SimpleJob(warmupCount: 5, iterationCount: 20)]
public class DriftGrainBenchmarks
{
    private const int Batch = 100;
    private const int Window = 500;
    private WebApplication _app = null!;

    /// <summary>
    /// How often the window is evaluated: the default, and once a million bars (never while timed), which leaves the
    /// window's own cost per bar.
    /// </summary>
    [Params(50, 1_000_000)]
    public int EvaluateEveryBars { get; set; }
    private readonly Dictionary<string, IAssetGrain> _assets = [];
    private readonly double _close = 100;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        byte[] bytes = Repo.SpeedModel();
        using Model model = Model.Load(bytes, "bench");
        float[] row = Repo.SpeedModelRows(model)[..model.FeatureCount];
        string lineage = "{\"profile\":" + Profile(model).ToJson() + "}";
        _app = Repo.Host(new Dictionary<string, string?>
        {
            ["Grid:Drift:Window"] = Window.ToString(CultureInfo.InvariantCulture),
            ["Grid:Drift:EvaluateEveryBars"] = EvaluateEveryBars.ToString(CultureInfo.InvariantCulture),
        });
        LabelledModels.Seed(_app, "scored", ["plain"], bytes, "up_1");
        LabelledModels.Seed(_app, "scored", ["profiled"], bytes, "up_1", lineage);
        LabelledModels.Seed(_app, "unscored", ["plain"], bytes, null);
        LabelledModels.Seed(_app, "unscored", ["profiled"], bytes, null, lineage);
        await _app.StartAsync();
        var grains = _app.Services.GetRequiredService<IGrainFactory>();
        foreach (string name in new[] { "scored", "unscored" })
        {
            foreach (string version in new[] { "plain", "profiled" })
            {
                IAssetGrain asset = grains.GetGrain<IAssetGrain>($"{name}-{version}");
                await asset.PushFeatures(row);
                await asset.AssignModel(new ModelRef(name, version));
                _assets[$"{name}-{version}"] = asset;
            }
        }
        for (int i = 0; i < 6; i++)
        {
            foreach (IAssetGrain asset in _assets.Values)
            {
                await BatchCall(asset);
            }
        }

        // Check the answer before timing it: the profiled versions hold a full window of every bar's 40 inputs and
        // prediction (the model's own for the pushed row, in its reference bin), the others none.
        var expected = new float[1];
        model.Predict(row, expected);
        foreach (var (key, asset) in _assets)
        {
            AssetDrift drift = await asset.GetDrift();
            bool profiled = key.EndsWith("profiled", StringComparison.Ordinal);
            string status = profiled ? DriftStatus.Ok : DriftStatus.NoReference;
            if (drift.Status != status || drift.Count != (profiled ? Window : 0) || (profiled && (drift.Features.Count != 40 || drift.Prediction!.Count != Window)))
            {
                throw new InvalidOperationException($"{key}: drift {drift.Status} over {drift.Count} bars; expected {status}");
            }
            if ((await asset.Predict()).Values[0] != expected[0])
            {
                throw new InvalidOperationException($"{key}: the grain's prediction differs from the model's");
            }
        }
    }

    // A reference for each of the model's 40 inputs and its prediction: 2,000 rows of standard normal inputs.
    private static ReferenceProfile Profile(Model model)
    {
        var random = new Random(21);
        float[][] columns = [.. Enumerable.Range(0, model.FeatureCount).Select(_ => new float[2000])];
        var predictions = new float[2000];
        var inputs = new float[model.FeatureCount];
        var output = new float[1];
        for (int r = 0; r < predictions.Length; r++)
        {
            for (int f = 0; f < inputs.Length; f++)
            {
                inputs[f] = columns[f][r] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
            }
            model.Predict(inputs, output);
            predictions[r] = output[0];
        }
        return ProfileBuilder.Build(model.FeatureNames!, columns, predictions, "benchmark");
    }

    [Benchmark(Baseline = true, Description = "no reference", OperationsPerInvoke = Batch), BenchmarkCategory("scored")]
    public Task<IngestResult> ScoredPlain() => BatchCall(_assets["scored-plain"]);

    [Benchmark(Description = "drift tracked", OperationsPerInvoke = Batch), BenchmarkCategory("scored")]
    public Task<IngestResult> ScoredProfiled() => BatchCall(_assets["scored-profiled"]);

    [Benchmark(Baseline = true, Description = "no reference", OperationsPerInvoke = Batch), BenchmarkCategory("not scored")]
    public Task<IngestResult> UnscoredPlain() => BatchCall(_assets["unscored-plain"]);

    [Benchmark(Description = "drift tracked", OperationsPerInvoke = Batch), BenchmarkCategory("not scored")]
    public Task<IngestResult> UnscoredProfiled() => BatchCall(_assets["unscored-profiled"]);

    // One clock for every asset: each call's bars are after the previous call's, whichever asset that went to.
    private readonly BarClock _clock = new();

    private async Task<IngestResult> BatchCall(IAssetGrain asset)
    {
        var bars = new BarData[Batch];
        for (int i = 0; i < Batch; i++)
        {
            double close = _close * (1 + 0.001 * ((i % 5) - 2));
            bars[i] = new BarData(_clock.Next(), close, close * 1.001, close * 0.999, close, 1000);
        }
        return BarClock.Accepted(await asset.AddBars(bars), Batch);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _app.StopAsync().GetAwaiter().GetResult();
        _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}

/// <summary>
/// The drift tracker alone, as the asset grain calls it after each bar (<c>Observe</c> with a 40-input model's inputs and
/// prediction, a window of 500 bars): its window's work per bar, and the same with the evaluation the grain's default
/// runs every 50 bars (41 series' statistics and Benjamini-Hochberg) spread over those bars. The inputs cycle through
/// 1,024 rows of standard normal values, so the bins vary as a live feed's do.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 5, iterationCount: 20)]
public class DriftTrackerBenchmarks
{
    private const int Features = 40;
    private const int Rows = 1024;
    private Grains.Assets.DriftTracker _windowOnly = null!;
    private Grains.Assets.DriftTracker _evaluated = null!;
    private float[][] _rows = null!;
    private float[] _predictions = null!;
    private ServiceProvider _services = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(5);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        string[] names = [.. Enumerable.Range(0, Features).Select(f => "f" + f.ToString(CultureInfo.InvariantCulture))];
        float[][] reference = [.. names.Select(_ => Enumerable.Range(0, 5000).Select(_ => (float)Normal()).ToArray())];
        ReferenceProfile profile = ProfileBuilder.Build(names, reference, [.. Enumerable.Range(0, 5000).Select(_ => (float)random.NextDouble())], "benchmark");
        _rows = [.. Enumerable.Range(0, Rows).Select(_ => names.Select(_ => (float)Normal()).ToArray())];
        _predictions = [.. Enumerable.Range(0, Rows).Select(_ => (float)random.NextDouble())];
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new Grains.Drift.DriftMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        byte[] bytes = Repo.SpeedModel();
        Model model = Model.Load(bytes, "bench");
        _windowOnly = Tracker(1_000_000);
        _evaluated = Tracker(new Grains.Drift.DriftOptions().EvaluateEveryBars);  // the default

        Grains.Assets.DriftTracker Tracker(int evaluateEveryBars)
        {
            var tracker = new Grains.Assets.DriftTracker("BENCH", new Grains.Drift.DriftOptions { Window = 500, EvaluateEveryBars = evaluateEveryBars },
                new Features.Quality.BarQualityOptions(), metrics);
            tracker.Serve(new ModelRef("bench", "v1"), model);
            tracker.Reference(profile);
            return tracker;
        }

        // Check the answer before timing it: after 700 bars each window holds exactly the last 500 rows' bins.
        for (int i = 0; i < 700; i++)
        {
            _windowOnly.Observe(_rows[i % Rows], _predictions[i % Rows]);
            _evaluated.Observe(_rows[i % Rows], _predictions[i % Rows]);
        }
        foreach (Grains.Assets.DriftTracker tracker in new[] { _windowOnly, _evaluated })
        {
            AssetDrift drift = tracker.Report(null);
            for (int f = 0; f < Features; f++)
            {
                var counts = new int[profile.Features[f].Bins];
                for (int bar = 200; bar < 700; bar++)
                {
                    counts[profile.Features[f].Bin(_rows[bar % Rows][f])]++;
                }
                if (drift.Status != DriftStatus.Ok || drift.Features[f].Psi != DriftStatistics.Compare(profile.Features[f], counts, 0).Psi)
                {
                    throw new InvalidOperationException($"feature {f}: the tracker's window is not the last 500 bars");
                }
            }
        }
        _next = 0;
    }

    [Benchmark(Baseline = true, Description = "window only")]
    public void WindowOnly()
    {
        int row = _next++ & (Rows - 1);
        _windowOnly.Observe(_rows[row], _predictions[row]);
    }

    [Benchmark(Description = "window + evaluation at the default interval (every 500 bars)")]
    public void Evaluated()
    {
        int row = _next++ & (Rows - 1);
        _evaluated.Observe(_rows[row], _predictions[row]);
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();
}
