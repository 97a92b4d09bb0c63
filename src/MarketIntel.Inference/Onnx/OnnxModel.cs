using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace MarketIntel.Inference.Onnx;

/// <summary>
/// An ONNX model with one float input of shape [N, F] and a float output [N], [N, 1] (one value per row) or
/// [N, K] (class probabilities), run through ONNX Runtime. The session is created once and shared; ONNX
/// Runtime's Run is safe to call from many threads.
///
/// The model comes from a client, so loading it checks its protobuf first (<see cref="OnnxModelCheck"/>), then
/// runs it on rows of zeros, one row and a full batch (fewer rows when they are wide), each run stopped once it
/// passes <see cref="ModelLimits.OnnxRunBudget"/>: a model that cannot run, runs too long, or gives more than
/// <see cref="ModelLimits.MaxOutputWidth"/> values a row, or a number of rows other than it was given, is
/// refused while being registered rather than failing each prediction. Memory for runs comes from the
/// process's budget, <see cref="OnnxRuntimeMemory"/>.
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
        OnnxRuntimeMemory.EnsureRegistered();
        InferenceSession session;
        try
        {
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            // Only the ONNX protobuf that was just checked, never ONNX Runtime's own format.
            options.AddSessionConfigEntry("session.load_model_format", "ONNX");
            // Runs allocate from the process's budgeted arena (OnnxRuntimeMemory), not an unbounded one of their own.
            options.AddSessionConfigEntry("session.use_env_allocators", "1");
            // Constant folding runs nodes while loading, allocating outside that arena (a ConstantOfShape of a
            // constant shape took 1.5 GB): unfolded, such a node runs with the model, inside the budget.
            options.AddSessionConfigEntry("optimization.disable_specified_optimizers", "ConstantFolding");
            // Expanding the model's functions (one inside another) may not make more nodes than the model may have.
            options.AddSessionConfigEntry("session.function_expansion_node_limit", limits.MaxOnnxNodes.ToString(CultureInfo.InvariantCulture));
            options.AddSessionConfigEntry("session.function_expansion_byte_limit", limits.MaxModelBytes.ToString(CultureInfo.InvariantCulture));
            session = new InferenceSession(bytes, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelFormatException(source, $"not a model XGBoost JSON or ONNX Runtime can load ({OnnxErrors.Sanitize(e.Message)})");
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
            if (features > limits.MaxFeatures)
            {
                throw new ModelFormatException(source, $"input '{input}' takes {ModelLimits.Count(features)} features, over the limit of {ModelLimits.Count(limits.MaxFeatures)}");
            }
            var output = session.OutputMetadata.FirstOrDefault(o => o.Value.IsTensor && o.Value.ElementType == typeof(float));
            if (output.Key is null)
            {
                throw new ModelFormatException(source, $"no float tensor output among {string.Join(", ", session.OutputMetadata.Select(o => $"'{o.Key}' {Describe(o.Value)}"))}");
            }
            int width = OutputWidth(session, input, meta.Dimensions[0], output.Key, output.Value, features, source, limits);
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

    /// <summary>
    /// Values per row. The declared shape must be [N], [N, 1] or [N, K] with K (when fixed) within the limit;
    /// then runs on one row of zeros and, when the input takes any number of rows, on a full batch must give a
    /// row of the same width per row given.
    /// </summary>
    private static int OutputWidth(InferenceSession session, string input, int inputRows, string output, NodeMetadata meta, int features, string source, ModelLimits limits)
    {
        int[] dims = meta.Dimensions;
        if (dims.Length is not (1 or 2))
        {
            throw new ModelFormatException(source, $"output '{output}' must be [N], [N, 1] or [N, K], it is {Describe(meta)}");
        }
        if (dims.Length == 2 && dims[1] > limits.MaxOutputWidth)
        {
            throw new ModelFormatException(source, $"output '{output}' declares {ModelLimits.Count(dims[1])} values a row, over the limit of {ModelLimits.Count(limits.MaxOutputWidth)}");
        }
        // The batch probe is as many rows as a batch runs at once, or as fit in 4 MiB of input for wide rows.
        int batch = Math.Clamp((1 << 20) / features, 2, MaxRowsPerRun);
        int width = -1;
        foreach (int rows in inputRows < 0 ? (int[])[1, batch] : [1])
        {
            long[] shape = Probe(session, input, output, rows, features, source, limits);
            int k = shape.Length == 1 ? 1 : shape.Length == 2 ? (int)Math.Min(shape[1], int.MaxValue) : -1;
            if (shape.Length != dims.Length || shape[0] != rows || k <= 0)
            {
                throw new ModelFormatException(source, $"output '{output}' has shape [{string.Join(", ", shape)}] for {rows} row(s); it must be one row of values per row");
            }
            if (k > limits.MaxOutputWidth)
            {
                throw new ModelFormatException(source, $"output '{output}' gives {ModelLimits.Count(k)} values a row, over the limit of {ModelLimits.Count(limits.MaxOutputWidth)}");
            }
            if (width >= 0 && k != width)
            {
                throw new ModelFormatException(source, $"output '{output}' gives {width} values a row for one row but {k} for {rows}");
            }
            width = k;
        }
        return width;
    }

    /// <summary>
    /// The output's shape on <paramref name="rows"/> rows of zeros. ONNX Runtime checks its terminate flag
    /// between nodes (and between a loop's turns), so a timer that sets it stops the run soon after the budget.
    /// </summary>
    private static long[] Probe(InferenceSession session, string input, string output, int rows, int features, string source, ModelLimits limits)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(new float[rows * features], [rows, features]);
        using var runOptions = new RunOptions();
        // A hostile probe may take most of the arena; hand it back afterwards rather than keep it for predictions.
        runOptions.AddRunConfigEntry("memory.enable_memory_arena_shrinkage", "cpu:0");
        using var budget = new CancellationTokenSource(limits.OnnxRunBudget);
        // Disposed before runOptions (declared after it), and disposing waits for a callback in flight.
        using var stop = budget.Token.Register(() => runOptions.Terminate = true);
        try
        {
            using var results = session.Run(runOptions, [input], [value], [output]);
            return results[0].GetTensorTypeAndShape().Shape;
        }
        catch (OnnxRuntimeException e)
        {
            if (budget.IsCancellationRequested)
            {
                throw new ModelFormatException(source, $"running it on {rows} row(s) of zeros took longer than the {ModelLimits.Duration(limits.OnnxRunBudget)} budget for a run while loading, so it was stopped");
            }
            if (OnnxErrors.IsOutOfMemory(e.Message))
            {
                throw new ModelFormatException(source, $"running it on {rows} row(s) of zeros needed more memory than ONNX Runtime may use ({OnnxRuntimeMemory.Describe()} for all models): {OnnxErrors.Sanitize(e.Message)}");
            }
            throw new ModelFormatException(source, $"ONNX Runtime could not run it on {rows} row(s) of zeros ({OnnxErrors.Sanitize(e.Message)})");
        }
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
        IDisposableReadOnlyCollection<OrtValue> results;
        try
        {
            results = _session.Run(runOptions, [_input], [value], [_output]);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"the ONNX model failed on {count} row(s): {OnnxErrors.Sanitize(e.Message)}", e);
        }
        using (results)
        {
            // The probes checked the width on zeros; other inputs may make the model answer otherwise, and then
            // nothing is copied rather than more than the caller's room.
            ReadOnlySpan<float> result = results[0].GetTensorDataAsSpan<float>();
            int expected = count * OutputCount;
            if (result.Length != expected)
            {
                throw new InvalidOperationException($"the ONNX model returned {result.Length} values for {count} row(s) of {OutputCount} outputs");
            }
            result.CopyTo(outputs[..expected]);
        }
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
