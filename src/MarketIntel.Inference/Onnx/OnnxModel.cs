using Microsoft.ML.OnnxRuntime;

namespace MarketIntel.Inference.Onnx;

/// <summary>
/// An ONNX model with one float input of shape [N, F] and a float output [N], [N, 1] (one value per row) or
/// [N, K] (class probabilities), run through ONNX Runtime. The session is created once and shared; ONNX
/// Runtime's Run is safe to call from many threads.
/// </summary>
public sealed class OnnxModel : Model
{
    private const int MaxRowsPerRun = 4096;
    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly string _output;

    private OnnxModel(InferenceSession session, string input, string output, int features, IReadOnlyList<string> outputs)
        : base("onnx", null, features, outputs)
    {
        _session = session;
        _input = input;
        _output = output;
    }

    internal static OnnxModel Create(byte[] bytes, string source, ModelLimits limits)
    {
        // Before ONNX Runtime sees the bytes: it would read any external data file the model names.
        OnnxModelCheck.Run(bytes, source, limits);
        InferenceSession session;
        try
        {
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            // Only the ONNX protobuf that was just checked, never ONNX Runtime's own format.
            options.AddSessionConfigEntry("session.load_model_format", "ONNX");
            session = new InferenceSession(bytes, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelFormatException(source, $"not a model XGBoost JSON or ONNX Runtime can load ({e.Message.Trim()})");
        }
        try
        {
            if (session.InputMetadata.Count != 1)
            {
                throw new ModelFormatException(source, $"an ONNX model must have exactly one input, this one has {session.InputMetadata.Count} ({string.Join(", ", session.InputMetadata.Keys)})");
            }
            var (input, meta) = session.InputMetadata.First();
            if (!meta.IsTensor || meta.ElementType != typeof(float) || meta.Dimensions.Length != 2 || meta.Dimensions[1] <= 0)
            {
                throw new ModelFormatException(source, $"input '{input}' must be a float tensor [N, F] with a fixed F, it is {Describe(meta)}");
            }
            int features = meta.Dimensions[1];
            var output = session.OutputMetadata.FirstOrDefault(o => o.Value.IsTensor && o.Value.ElementType == typeof(float));
            if (output.Key is null)
            {
                throw new ModelFormatException(source, $"no float tensor output among {string.Join(", ", session.OutputMetadata.Select(o => $"'{o.Key}' {Describe(o.Value)}"))}");
            }
            int width = OutputWidth(session, input, output.Key, output.Value, features, source);
            string[] names = width == 1 ? ["prediction"] : Enumerable.Range(0, width).Select(k => $"prob_{k}").ToArray();
            return new OnnxModel(session, input, output.Key, features, names);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static string Describe(NodeMetadata meta) =>
        meta.IsTensor ? $"{meta.ElementType.Name}[{string.Join(", ", meta.Dimensions.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]" : meta.OnnxValueType.ToString();

    // Values per row: from the declared shape when it is fixed, else from one run on a row of zeros.
    private static int OutputWidth(InferenceSession session, string input, string output, NodeMetadata meta, int features, string source)
    {
        int[] dims = meta.Dimensions;
        if (dims.Length == 1 || (dims.Length == 2 && dims[1] > 0))
        {
            return dims.Length == 1 ? 1 : dims[1];
        }
        if (dims.Length != 2)
        {
            throw new ModelFormatException(source, $"output '{output}' must be [N], [N, 1] or [N, K], it is {Describe(meta)}");
        }
        using var probe = OrtValue.CreateTensorValueFromMemory(new float[features], [1, features]);
        using var results = session.Run(new RunOptions(), [input], [probe], [output]);
        long[] shape = results[0].GetTensorTypeAndShape().Shape;
        return shape.Length == 2 && shape[1] > 0 ? (int)shape[1] : throw new ModelFormatException(source, $"output '{output}' has shape [{string.Join(", ", shape)}] for one row");
    }

    public override void Predict(ReadOnlySpan<float> features, Span<float> output)
    {
        CheckRow(features, output);
        Run(features, 1, output);
    }

    public override void PredictBatch(ReadOnlySpan<float> rows, Span<float> outputs)
    {
        int n = RowCount(rows, outputs);
        for (int start = 0; start < n; start += MaxRowsPerRun)
        {
            int count = Math.Min(MaxRowsPerRun, n - start);
            Run(rows.Slice(start * FeatureCount, count * FeatureCount), count, outputs.Slice(start * OutputCount, count * OutputCount));
        }
    }

    private void Run(ReadOnlySpan<float> rows, int count, Span<float> outputs)
    {
        float[] input = rows.ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(input, [count, FeatureCount]);
        using var runOptions = new RunOptions();
        using var results = _session.Run(runOptions, [_input], [value], [_output]);
        ReadOnlySpan<float> result = results[0].GetTensorDataAsSpan<float>();
        if (result.Length != count * OutputCount)
        {
            throw new InvalidOperationException($"the ONNX model returned {result.Length} values for {count} rows of {OutputCount} outputs");
        }
        result.CopyTo(outputs);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _session.Dispose();
        }
        base.Dispose(disposing);
    }
}
