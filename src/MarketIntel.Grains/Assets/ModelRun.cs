using System.Diagnostics;
using MarketIntel.Abstractions;
using MarketIntel.Inference;

namespace MarketIntel.Grains.Assets;

/// <summary>
/// One prediction from a model's filled inputs: the same computation whether the asset grain makes it or the silo's
/// read path (<see cref="LocalPredictor"/>) makes it from a published snapshot, counted and timed (by model version) once
/// either way.
/// </summary>
internal static class ModelRun
{
    public static PredictionResult Predict(string asset, ModelRef model, Model loaded, ReadOnlySpan<float> inputs, long asOf, GridMetrics metrics)
    {
        var output = new float[loaded.OutputCount];
        Run(model, loaded, inputs, output, metrics);
        return new PredictionResult(asset, output, model, asOf);
    }

    /// <summary>The prediction into <paramref name="output"/> (one slot per model output), allocating nothing: for scoring and shadows.</summary>
    public static void Run(ModelRef model, Model loaded, ReadOnlySpan<float> inputs, Span<float> output, GridMetrics metrics)
    {
        long started = Stopwatch.GetTimestamp();
        loaded.Predict(inputs, output);
        metrics.Predicted(model, loaded, Stopwatch.GetElapsedTime(started));
    }
}
