using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MarketIntel.Inference;
using MarketIntel.Inference.Xgboost;

namespace MarketIntel.Benchmarks;

/// <summary>
/// Tree inference on the speed model: 300 trees of depth 6 over 40 features, binary:logistic
/// (tests/fixtures/models/bench-d6-n300-f40). Every figure is time per row, one thread. Three ways over the
/// same 1,000 rows: the plain walk over XGBoost's node arrays (baseline), one row at a time (eight trees walked
/// together), the scalar batch path (eight rows through each tree together) and the AVX-512 batch path (sixteen
/// rows level by level).
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class InferenceBenchmarks
{
    private const int Rows = 1000;
    private XgboostModel _model = null!;
    private float[] _rows = null!;
    private float[] _out = null!;
    private int _f;

    [GlobalSetup]
    public void Setup()
    {
        _model = (XgboostModel)Model.Load(Repo.SpeedModel(), "bench-d6-n300-f40");
        _rows = Repo.SpeedModelRows(_model);
        _f = _model.FeatureCount;
        _out = new float[Rows];
        if (_rows.Length != Rows * _f)
        {
            throw new InvalidOperationException($"expected {Rows} rows");
        }

        // Check the answer before timing it: all three paths agree on every row.
        var batch = new float[Rows];
        _model.PredictBatch(_rows, batch);
        var scalar = new float[Rows];
        _model.PredictBatch(_rows, scalar, allowWide: false);
        if (!batch.AsSpan().SequenceEqual(scalar))
        {
            throw new InvalidOperationException("the AVX-512 and scalar batch paths disagree");
        }
        var one = new float[1];
        var reference = new float[1];
        for (int r = 0; r < Rows; r++)
        {
            _model.Predict(_rows.AsSpan(r * _f, _f), one);
            _model.PredictReference(_rows.AsSpan(r * _f, _f), reference);
            if (one[0] != batch[r] || reference[0] != batch[r])
            {
                throw new InvalidOperationException($"row {r}: batch {batch[r]}, one row {one[0]}, reference {reference[0]}");
            }
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows), BenchmarkCategory("per row")]
    public void ReferenceWalk()
    {
        for (int r = 0; r < Rows; r++)
        {
            _model.PredictReference(_rows.AsSpan(r * _f, _f), _out.AsSpan(r, 1));
        }
    }

    /// <summary>One row in process, as a grain calls it per bar.</summary>
    [Benchmark(OperationsPerInvoke = Rows), BenchmarkCategory("per row")]
    public void OneRowAtATime()
    {
        for (int r = 0; r < Rows; r++)
        {
            _model.Predict(_rows.AsSpan(r * _f, _f), _out.AsSpan(r, 1));
        }
    }

    /// <summary>Batches on the scalar path: eight rows walked through each tree at once.</summary>
    [Benchmark(OperationsPerInvoke = Rows), BenchmarkCategory("per row")]
    public void BatchScalar() => _model.PredictBatch(_rows, _out, allowWide: false);

    /// <summary>Batches, as backtests and drift checks call it (the AVX-512 path where the processor has it).</summary>
    [Benchmark(OperationsPerInvoke = Rows), BenchmarkCategory("per row")]
    public void Batch() => _model.PredictBatch(_rows, _out);
}
