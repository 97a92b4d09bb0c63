using BenchmarkDotNet.Attributes;
using MarketIntel.Inference;

namespace MarketIntel.Benchmarks;

/// <summary>
/// Batches smaller than the AVX-512 path's block of sixteen rows (an asset grain's call of a few bars, or what is left
/// of a longer call after its whole blocks), on the 300-tree speed model: time per batch. Below
/// <c>TreeEnsemble.WidePaddedFrom</c> rows they go one row at a time; from there, as one block with its empty lanes
/// padded, whose cost does not depend on how many lanes are rows.
/// </summary>
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class SmallBatchBenchmarks
{
    private Model _model = null!;
    private float[] _rows = null!;
    private float[] _out = null!;

    [Params(4, 5, 6, 7, 8, 12, 15)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = Model.Load(Repo.SpeedModel(), "bench-d6-n300-f40");
        int f = _model.FeatureCount;
        _rows = Repo.SpeedModelRows(_model)[..(Rows * f)];
        _out = new float[Rows];

        // Check the answer before timing it: the batch gives each row its one-row prediction.
        _model.PredictBatch(_rows, _out);
        var one = new float[1];
        for (int r = 0; r < Rows; r++)
        {
            _model.Predict(_rows.AsSpan(r * f, f), one);
            if (one[0] != _out[r])
            {
                throw new InvalidOperationException($"row {r} of {Rows}: batch {_out[r]}, one row {one[0]}");
            }
        }
    }

    [Benchmark]
    public void Batch() => _model.PredictBatch(_rows, _out);

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();
}
