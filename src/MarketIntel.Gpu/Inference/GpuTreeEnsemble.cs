using ILGPU;
using ILGPU.Runtime;
using MarketIntel.Gpu.Devices;
using MarketIntel.Inference;
using MarketIntel.Inference.Xgboost;

namespace MarketIntel.Gpu.Inference;

/// <summary>
/// An XGBoost model's trees on a <see cref="GpuDevice"/>, evaluated for many rows in one kernel launch per chunk of
/// rows: one thread per row walks every tree in model order and sums each class's margin in float, base margin first,
/// exactly as the CPU evaluator does, so the margins agree bit for bit. The objective's transform (sigmoid, softmax)
/// then runs on the host through the same code as the CPU path (<see cref="XgboostModel.PredictBatch(ReadOnlySpan{float}, Span{float})"/>),
/// which keeps one definition of each transform; it is a small share of the work next to the tree walks.
/// </summary>
/// <remarks>
/// Layout: XGBoost's own node arrays, every tree's nodes one after another, children as absolute indices (a leaf has
/// left = -1 and its value, already scaled by a dart tree's weight, in <c>Value</c>). Rows stay row-major as the
/// caller gives them, so no transposition is paid on the host. A missing value (NaN) follows the split's default child.
/// </remarks>
public sealed class GpuTreeEnsemble : IDisposable
{
    /// <summary>Device memory the input rows of one launch may take; bigger batches go in chunks of this size.</summary>
    private const long ChunkBytes = 512L << 20;

    private readonly XgboostModel _model;
    private readonly TreeEnsemble _ensemble;
    private readonly Accelerator _accelerator;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _roots;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _classOf;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _left;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _right;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _feature;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _defaultLeft;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _value;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _baseMargins;
    private readonly Action<Index1D, ArrayView<float>, int, Trees, ArrayView<float>> _kernel;

    /// <summary>Copies <paramref name="model"/>'s trees to <paramref name="device"/> and compiles the kernel there.</summary>
    /// <exception cref="ArgumentException">The model is not an XGBoost model (ONNX models run on the CPU only).</exception>
    public GpuTreeEnsemble(GpuDevice device, Model model)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(model);
        _model = model as XgboostModel
            ?? throw new ArgumentException($"GPU inference evaluates XGBoost tree models; this model is {model.Kind} (run it with --device auto on the CPU)", nameof(model));
        _ensemble = _model.Ensemble;
        _accelerator = device.Accelerator;

        IReadOnlyList<RawTree> trees = _ensemble.RawTrees;
        var roots = new int[trees.Count];
        var classOf = new int[trees.Count];
        int nodes = 0;
        for (int t = 0; t < trees.Count; t++)
        {
            roots[t] = nodes;
            classOf[t] = trees[t].Class;
            nodes += trees[t].Nodes;
        }
        var left = new int[nodes];
        var right = new int[nodes];
        var feature = new int[nodes];
        var defaultLeft = new int[nodes];
        var value = new float[nodes];
        for (int t = 0; t < trees.Count; t++)
        {
            RawTree tree = trees[t];
            for (int i = 0; i < tree.Nodes; i++)
            {
                int at = roots[t] + i;
                bool leaf = tree.IsLeaf(i);
                left[at] = leaf ? -1 : roots[t] + tree.Left[i];
                right[at] = leaf ? -1 : roots[t] + tree.Right[i];
                feature[at] = leaf ? 0 : tree.Feature[i];
                defaultLeft[at] = !leaf && tree.DefaultLeft[i] ? 1 : 0;
                value[at] = leaf ? tree.LeafValue(i) : tree.Threshold[i];
            }
        }
        _roots = Upload(roots);
        _classOf = Upload(classOf);
        _left = Upload(left);
        _right = Upload(right);
        _feature = Upload(feature);
        _defaultLeft = Upload(defaultLeft);
        _value = Upload(value);
        _baseMargins = Upload(_ensemble.BaseMargins.ToArray());
        _kernel = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, Trees, ArrayView<float>>(MarginsKernel);
    }

    /// <summary>How many features a row has.</summary>
    public int FeatureCount => _model.FeatureCount;

    /// <summary>How many outputs a row's prediction has.</summary>
    public int OutputCount => _model.OutputCount;

    /// <summary>
    /// Predicts many rows (row-major, <see cref="FeatureCount"/> each) into <paramref name="outputs"/>
    /// (<see cref="OutputCount"/> per row), as <see cref="Model.PredictBatch"/> does on the CPU.
    /// </summary>
    /// <exception cref="ArgumentException">The spans do not hold whole rows, or the outputs do not fit the rows.</exception>
    public void PredictBatch(ReadOnlySpan<float> rows, Span<float> outputs)
    {
        int f = _model.FeatureCount, k = _ensemble.Classes, o = _model.OutputCount;
        if (f == 0 || rows.Length % f != 0)
        {
            throw new ArgumentException($"GPU inference: {rows.Length} values are not whole rows of {f} features", nameof(rows));
        }
        int n = rows.Length / f;
        if (outputs.Length != (long)n * o)
        {
            throw new ArgumentException($"GPU inference: {n} rows need {(long)n * o} outputs, not {outputs.Length}", nameof(outputs));
        }
        if (n == 0)
        {
            return;
        }
        int chunk = (int)Math.Clamp(ChunkBytes / (sizeof(float) * (long)f), 1, n);
        using var input = _accelerator.Allocate1D<float>((long)chunk * f);
        using var margins = _accelerator.Allocate1D<float>((long)chunk * k);
        float[] hostMargins = new float[chunk * k];
        for (int start = 0; start < n; start += chunk)
        {
            int count = Math.Min(chunk, n - start);
            input.View.AsContiguous().SubView(0, (long)count * f).CopyFromCPU(rows.Slice(start * f, count * f));
            _kernel(count, input.View, f, Views(), margins.View);
            margins.View.AsContiguous().SubView(0, (long)count * k).CopyToCPU(hostMargins.AsSpan(0, count * k));
            for (int r = 0; r < count; r++)
            {
                XgboostObjectives.Transform(_model.Objective, hostMargins.AsSpan(r * k, k), outputs.Slice((start + r) * o, o));
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _roots.Dispose();
        _classOf.Dispose();
        _left.Dispose();
        _right.Dispose();
        _feature.Dispose();
        _defaultLeft.Dispose();
        _value.Dispose();
        _baseMargins.Dispose();
    }

    private MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(T[] values)
        where T : unmanaged
    {
        // A zero-length buffer is not valid on every backend; a model always has trees, but keep one element spare.
        var buffer = _accelerator.Allocate1D<T>(Math.Max(1, values.Length));
        buffer.View.AsContiguous().SubView(0, values.Length).CopyFromCPU(values.AsSpan());
        return buffer;
    }

    private Trees Views() => new()
    {
        Roots = _roots.View,
        Class = _classOf.View,
        Left = _left.View,
        Right = _right.View,
        Feature = _feature.View,
        DefaultLeft = _defaultLeft.View,
        Value = _value.View,
        BaseMargins = _baseMargins.View,
        Count = (int)_ensemble.RawTrees.Count,
        Classes = _ensemble.Classes,
    };

    /// <summary>The flattened trees as the kernel reads them.</summary>
    internal struct Trees
    {
        public ArrayView<int> Roots;
        public ArrayView<int> Class;
        public ArrayView<int> Left;
        public ArrayView<int> Right;
        public ArrayView<int> Feature;
        public ArrayView<int> DefaultLeft;
        public ArrayView<float> Value;
        public ArrayView<float> BaseMargins;
        public int Count;
        public int Classes;
    }

    /// <summary>
    /// Row <paramref name="row"/>'s margin per class. A class's sum is kept in a register and its trees are added in
    /// model order (the other classes' trees are skipped), which is the CPU's order of float additions.
    /// </summary>
    internal static void MarginsKernel(Index1D row, ArrayView<float> rows, int features, Trees trees, ArrayView<float> margins)
    {
        long x = (long)row.X * features;
        for (int c = 0; c < trees.Classes; c++)
        {
            float sum = trees.BaseMargins[c];
            for (int t = 0; t < trees.Count; t++)
            {
                if (trees.Class[t] != c)
                {
                    continue;
                }
                int i = trees.Roots[t];
                while (trees.Left[i] >= 0)
                {
                    float v = rows[x + trees.Feature[i]];
                    bool goLeft = float.IsNaN(v) ? trees.DefaultLeft[i] != 0 : v < trees.Value[i];
                    i = goLeft ? trees.Left[i] : trees.Right[i];
                }
                sum += trees.Value[i];
            }
            margins[((long)row.X * trees.Classes) + c] = sum;
        }
    }
}
