using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MarketIntel.Abstractions;
using MarketIntel.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Benchmarks;

/// <summary>
/// An asset grain's bar path in a real host (the grain call, the 20 standard features, the predictions after the bar,
/// live scoring), with the issue's speed model (300 trees of depth 6 over 40 pushed features, labelled up_1) served
/// alone (baseline) and with 3 shadows of the same size; time per bar, with one bar per call (what a live feed sends:
/// the grain call dominates) and with 100 bars per call (the grain's own work per bar).
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[SimpleJob(warmupCount: 5, iterationCount: 20)]
public class ShadowBenchmarks
{
    private const int Shadows = 3;
    private const int Calls = 20;   // one-bar calls per invocation
    private const int Batch = 100;  // bars per call in the batched category
    private WebApplication _app = null!;
    private IAssetGrain _alone = null!;
    private IAssetGrain _shadowed = null!;
    private readonly BarClock _clock = new();  // one clock for both assets: each bar's time is after the last one's
    private long _next;  // the latest bar's time
    private double _close = 100;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        byte[] bytes = Repo.SpeedModel();
        _app = Repo.Host();
        string[] shadows = [.. Enumerable.Range(1, Shadows).Select(i => "s" + i.ToString(CultureInfo.InvariantCulture))];
        LabelledModels.Seed(_app, "alone", ["v1"], bytes, "up_1");
        LabelledModels.Seed(_app, "shadowed", ["v1", .. shadows], bytes, "up_1");
        await _app.StartAsync();
        var grains = _app.Services.GetRequiredService<IGrainFactory>();
        foreach (string shadow in shadows)
        {
            await grains.GetGrain<IModelRegistryGrain>(0).SetShadow(new ModelRef("shadowed", shadow), true, "benchmark");
        }
        using Model model = Model.Load(bytes, "bench");
        float[] row = Repo.SpeedModelRows(model)[..model.FeatureCount];
        _alone = grains.GetGrain<IAssetGrain>("ALONE");
        _shadowed = grains.GetGrain<IAssetGrain>("SHADOWED");
        foreach (var (asset, name) in new[] { (_alone, "alone"), (_shadowed, "shadowed") })
        {
            await asset.PushFeatures(row);
            await asset.AssignModel(new ModelRef(name, "v1"));
        }
        for (int i = 0; i < 200; i++)
        {
            await Bar();
        }

        // Check the answer before timing it: both serve the model's prediction for the pushed row, and each scored its
        // served version (and the shadowed one each shadow) on every bar but the last: both predict on every bar.
        var expected = new float[1];
        model.Predict(row, expected);
        foreach (IAssetGrain asset in new[] { _alone, _shadowed })
        {
            if ((await asset.Predict()).Values[0] != expected[0])
            {
                throw new InvalidOperationException("the grain's prediction differs from the model's");
            }
        }
        foreach (var (asset, versions, pairs) in new[] { (_alone, 1, 0), (_shadowed, 1 + Shadows, Shadows) })
        {
            var scores = await asset.GetScores();
            if (scores.Versions.Count != versions || scores.Versions.Any(v => v.Outcomes != 199) || scores.Pairs.Count != pairs)
            {
                throw new InvalidOperationException($"scored {string.Join(", ", scores.Versions.Select(v => $"{v.Model}: {v.Outcomes}"))}; expected {versions} versions");
            }
        }
    }

    private async Task Bar()
    {
        _next = _clock.Next();
        await Send(_alone);
        await Send(_shadowed);
        _close *= _next % 7 < 3 ? 1.001 : 0.9995;
    }

    private async Task Send(IAssetGrain asset) =>
        BarClock.Accepted(await asset.AddBars([new BarData(_next, _close, _close * 1.001, _close * 0.999, _close, 1000)]), 1);

    [Benchmark(Baseline = true, Description = "served alone", OperationsPerInvoke = Calls), BenchmarkCategory("one bar per call")]
    public Task ServedAlone() => OneBarCalls(_alone);

    [Benchmark(Description = "served + 3 shadows", OperationsPerInvoke = Calls), BenchmarkCategory("one bar per call")]
    public Task ServedAndShadows() => OneBarCalls(_shadowed);

    [Benchmark(Baseline = true, Description = "served alone", OperationsPerInvoke = Batch), BenchmarkCategory("100 bars per call")]
    public Task<IngestResult> ServedAloneBatched() => BatchCall(_alone);

    [Benchmark(Description = "served + 3 shadows", OperationsPerInvoke = Batch), BenchmarkCategory("100 bars per call")]
    public Task<IngestResult> ServedAndShadowsBatched() => BatchCall(_shadowed);

    private async Task OneBarCalls(IAssetGrain asset)
    {
        for (int i = 0; i < Calls; i++)
        {
            _next = _clock.Next();
            await Send(asset);
        }
    }

    private async Task<IngestResult> BatchCall(IAssetGrain asset)
    {
        var bars = new BarData[Batch];
        for (int i = 0; i < Batch; i++)
        {
            _next = _clock.Next();
            double close = _close * (1 + 0.001 * ((i % 5) - 2));
            bars[i] = new BarData(_next, close, close * 1.001, close * 0.999, close, 1000);
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
