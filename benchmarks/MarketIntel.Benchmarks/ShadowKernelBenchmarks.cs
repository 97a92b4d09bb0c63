using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MarketIntel.Inference;

namespace MarketIntel.Benchmarks;

/// <summary>
/// The batch kernel as an asset grain calls it for a call of 100 bars: one version alone, and four versions (a served
/// version and 3 shadows, each its own loaded copy of the speed model) predicting the same 100 rows in turn.
/// Time per row per version, so the two are equal where four models cost four times one: what separates them is
/// what the four models' trees cost in the caches.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[SimpleJob(warmupCount: 5, iterationCount: 20)]
public class ShadowKernelBenchmarks
{
    private const int Rows = 100;
    private const int Versions = 4;
    private Model[] _models = null!;
    private float[] _rows = null!;
    private readonly float[] _out = new float[Rows];

    [GlobalSetup]
    public void Setup()
    {
        byte[] bytes = Repo.SpeedModel();
        _models = [.. Enumerable.Range(0, Versions).Select(i => Model.Load(bytes, "v" + i))];
        _rows = Repo.SpeedModelRows(_models[0])[..(Rows * _models[0].FeatureCount)];
    }

    [Benchmark(Baseline = true, Description = "one version", OperationsPerInvoke = Rows), BenchmarkCategory("100 rows")]
    public void OneVersion() => _models[0].PredictBatch(_rows, _out);

    [Benchmark(Description = "four versions in turn", OperationsPerInvoke = Rows * Versions), BenchmarkCategory("100 rows")]
    public void FourVersions()
    {
        foreach (Model model in _models)
        {
            model.PredictBatch(_rows, _out);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (Model model in _models)
        {
            model.Dispose();
        }
    }
}
