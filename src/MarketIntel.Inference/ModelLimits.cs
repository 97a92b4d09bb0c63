using System.Globalization;

namespace MarketIntel.Inference;

/// <summary>
/// What a model may ask of the process that loads it. Models arrive from clients, so every cost a model can
/// drive (its size, its trees, its graph, the time and output of running it) has a ceiling here, and
/// <see cref="Model.Load(ReadOnlySpan{byte}, string, ModelLimits?)"/> refuses a model over any of them with a
/// <see cref="ModelFormatException"/> naming the limit. The defaults are generous for the tabular models this
/// project serves; a host may bind its own from configuration. ONNX Runtime's memory budget is process-wide,
/// so it is not here but in <see cref="Onnx.OnnxRuntimeMemory"/>.
/// </summary>
public sealed record ModelLimits
{
    /// <summary>The defaults below.</summary>
    public static ModelLimits Default { get; } = new();

    /// <summary>The largest model, in bytes, of either format: 64 MiB (the XGBoost fixtures are under 2 MiB).</summary>
    public long MaxModelBytes { get; init; } = 64L << 20;

    /// <summary>
    /// The most features a row may have, either format: 65,536. Each prediction allocates in proportion (an
    /// XGBoost row is expanded to 64 bytes a feature; an ONNX batch is 4096 rows).
    /// </summary>
    public int MaxFeatures { get; init; } = 1 << 16;

    /// <summary>XGBoost: the most trees in a model, over all classes: 10,000.</summary>
    public int MaxTrees { get; init; } = 10_000;

    /// <summary>XGBoost: the most nodes in one tree: 2^20 (a complete tree of depth 19).</summary>
    public int MaxTreeNodes { get; init; } = 1 << 20;

    /// <summary>XGBoost: the most nodes in all trees together: 2^22.</summary>
    public int MaxTotalNodes { get; init; } = 1 << 22;

    /// <summary>
    /// XGBoost: the deepest tree, in splits from the root to a leaf: 1,024. Depthwise trees stop at max_depth
    /// (6 by default); only degenerate lossguide trees come near this.
    /// </summary>
    public int MaxTreeDepth { get; init; } = 1_024;

    /// <summary>
    /// ONNX: the most nodes in all of a model's graphs, subgraphs and functions together, and the most ONNX
    /// Runtime may make of them by expanding functions: 10,000. Loading a graph is work that cannot be
    /// interrupted, so this bounds it.
    /// </summary>
    public int MaxOnnxNodes { get; init; } = 10_000;

    /// <summary>
    /// ONNX: how long any run made while loading (the probes that learn and check the output shape) may take
    /// before ONNX Runtime is told to stop: 2 s.
    /// </summary>
    public TimeSpan OnnxRunBudget { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The most values one row's prediction may have, declared or produced: 1,024.</summary>
    public int MaxOutputWidth { get; init; } = 1_024;

    /// <summary>Throws when a limit is not positive: a zero or negative ceiling is a configuration mistake.</summary>
    public void Validate()
    {
        foreach (var (name, value) in new (string, long)[]
        {
            (nameof(MaxModelBytes), MaxModelBytes), (nameof(MaxFeatures), MaxFeatures), (nameof(MaxTrees), MaxTrees), (nameof(MaxTreeNodes), MaxTreeNodes),
            (nameof(MaxTotalNodes), MaxTotalNodes), (nameof(MaxTreeDepth), MaxTreeDepth), (nameof(MaxOnnxNodes), MaxOnnxNodes),
            (nameof(MaxOutputWidth), MaxOutputWidth), (nameof(OnnxRunBudget), OnnxRunBudget.Ticks),
        })
        {
            if (value <= 0)
            {
                throw new ArgumentOutOfRangeException(name, value, $"model limit {name} must be positive");
            }
        }
    }

    /// <summary>A count as the messages show it: 67,108,864.</summary>
    internal static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A duration as the messages show it: "2 s", "250 ms".</summary>
    internal static string Duration(TimeSpan value) =>
        value.TotalMilliseconds % 1000 == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{value.TotalSeconds:0} s")
            : string.Create(CultureInfo.InvariantCulture, $"{value.TotalMilliseconds:0.###} ms");
}
