using System.Buffers;
using System.Diagnostics;
using MarketIntel.Inference;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// The predictions every version of a lineup makes after each bar of one AddBars call, made in one batch per version
/// rather than one row at a time. The grain first applies the call's bars, filling each predicting version's inputs
/// after each bar (<see cref="Fill"/>); <see cref="Run"/> then predicts each version's rows at once, and the grain
/// walks the bars again in order to score, record and publish (<see cref="Output"/>, <see cref="Inputs"/>).
/// </summary>
/// <remarks>
/// Why: in a call of many bars the predictions were most of a bar's cost, and each shadow added a whole single-row
/// prediction per bar (4 versions cost 4.1 times 1 at 100 bars a call). The batch path runs several rows through each
/// tree together (docs/inference.md), about twice as fast per row, and the grain's per-bar work is otherwise unchanged.
/// Buffers are rented from the shared pool for the call and returned by <see cref="Dispose"/>, so a call allocates
/// nothing per bar. Versions whose inputs are the same (<see cref="ModelBinding.SameInputs"/>: a shadow retrained on the
/// served version's features) share one copy of the rows, filled once per bar, rather than each holding its own copy;
/// each still makes its own prediction from them. Not thread-safe: one call of the asset's grain uses it.
/// </remarks>
internal sealed class BarPredictions : IDisposable
{
    /// <summary>The most bars one batch holds: a longer call is predicted in batches of this many, so a call's buffers stay small.</summary>
    public const int MaxBars = 128;

    private readonly ModelLineup _lineup;
    private readonly int _bars;
    private readonly float[]?[] _inputs;   // per position: bars x inputs, row-major; null where the version does not predict; shared by versions of the same inputs
    private readonly float[]?[] _outputs;  // per position: bars x outputs
    private readonly int[] _filled;        // per position: rows filled so far

    /// <summary>
    /// Predictions for <paramref name="bars"/> bars by the served version of <paramref name="lineup"/> (where
    /// <paramref name="served"/>) and its shadows (where <paramref name="shadows"/>).
    /// </summary>
    public BarPredictions(ModelLineup lineup, int bars, bool served, bool shadows, ModelBinding binding)
    {
        _lineup = lineup;
        _bars = bars;
        int positions = lineup.Models.Length;
        _inputs = new float[]?[positions];
        _outputs = new float[]?[positions];
        _filled = new int[positions];
        for (int p = 0; p < positions; p++)
        {
            if (p == 0 ? served : shadows)
            {
                Model loaded = lineup.Loaded[p];
                for (int q = 0; q < p && _inputs[p] is null; q++)
                {
                    if (_inputs[q] is not null && Owner(q) == q && binding.SameInputs(lineup.Loaded[q], loaded))
                    {
                        _inputs[p] = _inputs[q];
                    }
                }
                _inputs[p] ??= ArrayPool<float>.Shared.Rent(bars * loaded.FeatureCount);
                _outputs[p] = ArrayPool<float>.Shared.Rent(bars * loaded.OutputCount);
            }
        }
    }

    // The position that fills the rows the version at position reads: itself, or the first with the same rows. A scan
    // of a handful of positions, so that a call allocates nothing more for sharing.
    private int Owner(int position)
    {
        int q = 0;
        while (!ReferenceEquals(_inputs[q], _inputs[position]))
        {
            q++;
        }
        return q;
    }

    /// <summary>Whether the version at <paramref name="position"/> predicts after every bar of this call.</summary>
    public bool Predicts(int position) => _inputs[position] is not null;

    /// <summary>
    /// Fills the version's inputs after bar <paramref name="bar"/> through <paramref name="binding"/> (when it cannot, the
    /// version predicts on none of this call's bars: its inputs come from the same source on every bar).
    /// </summary>
    public void Fill(int position, int bar, ModelBinding binding, float[]? pushed)
    {
        if (_inputs[position] is not { } rows || Owner(position) != position || _filled[position] != bar)
        {
            return;   // not predicting, reading another version's rows, or it could not fill an earlier bar of this call
        }
        int width = _lineup.Loaded[position].FeatureCount;
        if (binding.TryFill(_lineup.Loaded[position], pushed, rows.AsSpan(bar * width, width)))
        {
            _filled[position]++;
        }
    }

    /// <summary>Whether the version has a prediction for every bar of the call (its inputs were filled each time).</summary>
    public bool Has(int position) => _inputs[position] is not null && _filled[Owner(position)] == _bars;

    /// <summary>Predicts every filled version's rows, one batch each, counted and timed per row by version.</summary>
    public void Run(GridMetrics metrics)
    {
        for (int p = 0; p < _inputs.Length; p++)
        {
            if (!Has(p))
            {
                continue;
            }
            Model loaded = _lineup.Loaded[p];
            long started = Stopwatch.GetTimestamp();
            loaded.PredictBatch(_inputs[p].AsSpan(0, _bars * loaded.FeatureCount), _outputs[p].AsSpan(0, _bars * loaded.OutputCount));
            metrics.Predicted(_lineup.Models[p], loaded, _bars, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>The version's prediction after bar <paramref name="bar"/> (after <see cref="Run"/>).</summary>
    public ReadOnlySpan<float> Output(int position, int bar)
    {
        int width = _lineup.Loaded[position].OutputCount;
        return _outputs[position].AsSpan(bar * width, width);
    }

    /// <summary>The version's inputs after bar <paramref name="bar"/>.</summary>
    public ReadOnlySpan<float> Inputs(int position, int bar)
    {
        int width = _lineup.Loaded[position].FeatureCount;
        return _inputs[position].AsSpan(bar * width, width);
    }

    public void Dispose()
    {
        for (int p = 0; p < _inputs.Length; p++)
        {
            if (_inputs[p] is { } inputs)
            {
                if (Owner(p) == p)
                {
                    ArrayPool<float>.Shared.Return(inputs);
                }
                ArrayPool<float>.Shared.Return(_outputs[p]!);
            }
        }
    }
}
