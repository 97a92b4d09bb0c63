using MarketIntel.Inference.Onnx;
using MarketIntel.Inference.Xgboost;

namespace MarketIntel.Inference;

/// <summary>
/// A loaded model: XGBoost JSON trees or an ONNX graph. Inputs are float32 feature rows (NaN = missing), in the
/// order of <see cref="FeatureNames"/> when the model has names, else by position. Loaded once and shared:
/// every member is safe to call from many threads at once.
/// </summary>
public abstract class Model : IDisposable
{
    private protected Model(string kind, IReadOnlyList<string>? featureNames, int featureCount, IReadOnlyList<string> outputNames)
    {
        Kind = kind;
        FeatureNames = featureNames;
        FeatureCount = featureCount;
        OutputNames = outputNames;
    }

    /// <summary>"xgboost" or "onnx".</summary>
    public string Kind { get; }

    /// <summary>The model's feature names in input order, or null when it has none (inputs then go by position).</summary>
    public IReadOnlyList<string>? FeatureNames { get; }

    /// <summary>How many features one input row has.</summary>
    public int FeatureCount { get; }

    /// <summary>Names of the outputs per row: <c>prediction</c>, or <c>prob_0..prob_{K-1}</c> for class probabilities.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>How many values one row's prediction has.</summary>
    public int OutputCount => OutputNames.Count;

    /// <summary>Predicts one row: <paramref name="features"/> has <see cref="FeatureCount"/> values, <paramref name="output"/> room for <see cref="OutputCount"/>.</summary>
    public abstract void Predict(ReadOnlySpan<float> features, Span<float> output);

    /// <summary>Predicts many rows stored one after another (row-major); outputs likewise, <see cref="OutputCount"/> per row.</summary>
    public abstract void PredictBatch(ReadOnlySpan<float> rows, Span<float> outputs);

    /// <summary>
    /// Loads a model from its bytes: XGBoost JSON (starts with '{') or ONNX. <paramref name="source"/> names it in
    /// errors. The bytes may come from anyone: a model over any of <paramref name="limits"/> (default
    /// <see cref="ModelLimits.Default"/>), malformed, or asking for anything outside itself is refused with a
    /// <see cref="ModelFormatException"/>.
    /// </summary>
    public static Model Load(ReadOnlySpan<byte> bytes, string source, ModelLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        limits ??= ModelLimits.Default;
        limits.Validate();
        if (bytes.IsEmpty)
        {
            throw new ModelFormatException(source, "empty model file");
        }
        CheckSize(bytes.Length, source, limits);
        int first = 0;
        while (first < bytes.Length && bytes[first] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0xEF or 0xBB or 0xBF)
        {
            first++;
        }
        return first < bytes.Length && bytes[first] == (byte)'{'
            ? XgboostModel.Parse(bytes, source, limits)
            : OnnxModel.Create(bytes.ToArray(), source, limits);
    }

    /// <summary>Loads a model file (<c>.json</c> XGBoost, or <c>.onnx</c>) under <paramref name="limits"/>, as <see cref="Load"/> does.</summary>
    public static Model LoadFile(string path, ModelLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        limits ??= ModelLimits.Default;
        byte[] bytes;
        try
        {
            // The size first, so an oversized file is refused without reading it.
            CheckSize(new FileInfo(path).Length, path, limits);
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, e is FileNotFoundException or DirectoryNotFoundException ? "no such file" : e.Message);
        }
        return Load(bytes, path, limits);
    }

    private static void CheckSize(long length, string source, ModelLimits limits)
    {
        if (length > limits.MaxModelBytes)
        {
            throw new ModelFormatException(source, $"the model is {ModelLimits.Count(length)} bytes, over the limit of {ModelLimits.Count(limits.MaxModelBytes)} bytes on a model's size");
        }
    }

    /// <summary>Checks the shapes of a batch call and returns the number of rows.</summary>
    private protected int RowCount(ReadOnlySpan<float> rows, Span<float> outputs)
    {
        if (FeatureCount == 0 || rows.Length % FeatureCount != 0)
        {
            throw new ArgumentException($"{rows.Length} values is not a whole number of rows of {FeatureCount} features", nameof(rows));
        }
        int n = rows.Length / FeatureCount;
        if (outputs.Length < n * OutputCount)
        {
            throw new ArgumentException($"room for {outputs.Length} outputs, {n} rows need {n * OutputCount}", nameof(outputs));
        }
        return n;
    }

    private protected void CheckRow(ReadOnlySpan<float> features, Span<float> output)
    {
        if (features.Length != FeatureCount)
        {
            throw new ArgumentException($"{features.Length} features given, the model takes {FeatureCount}", nameof(features));
        }
        if (output.Length < OutputCount)
        {
            throw new ArgumentException($"room for {output.Length} outputs, the model gives {OutputCount}", nameof(output));
        }
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}
