using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MarketIntel.Inference.Xgboost;

/// <summary>One tree as XGBoost stores it: parallel node arrays; a leaf has left = -1 and its value in Threshold.</summary>
internal sealed record RawTree(int[] Left, int[] Right, int[] Feature, float[] Threshold, bool[] DefaultLeft, int Class, float Weight)
{
    public int Nodes => Left.Length;

    public bool IsLeaf(int node) => Left[node] < 0;

    /// <summary>The leaf value as added to the margin: dart scales each tree's output by its weight, in float.</summary>
    public float LeafValue(int node) => Weight == 1.0f ? Threshold[node] : Threshold[node] * Weight;

    private int _measuredDepth = -1;

    /// <summary>
    /// Splits on the longest path from the root to a leaf. Measured with a stack of our own rather than by
    /// recursion, because a tree is client input and may be a chain as long as it likes. Needs a tree, as the
    /// reader checks: every node reachable from the root through exactly one parent.
    /// </summary>
    public int Depth => _measuredDepth >= 0 ? _measuredDepth : _measuredDepth = MeasureDepth();

    private int MeasureDepth()
    {
        var pending = new Stack<(int Node, int Depth)>();
        pending.Push((0, 0));
        int deepest = 0;
        for (int visited = 0; pending.Count > 0; visited++)
        {
            if (visited >= Nodes)
            {
                throw new InvalidOperationException("the nodes do not form a tree: a node is reached twice");
            }
            var (node, depth) = pending.Pop();
            if (IsLeaf(node))
            {
                deepest = Math.Max(deepest, depth);
                continue;
            }
            pending.Push((Left[node], depth + 1));
            pending.Push((Right[node], depth + 1));
        }
        return deepest;
    }
}

/// <summary>
/// The fast evaluator of a tree ensemble. Each tree of depth up to <see cref="MaxCompleteDepth"/> is laid out
/// as a complete binary tree in breadth-first order (node i has children 2i+1 and 2i+2), padding a leaf that
/// ends early with copies of itself, so a walk is exactly <c>depth</c> branch-free steps
/// <c>i = 2i + 1 + (x &gt;= threshold)</c> with no leaf test. Deeper trees keep a flat node walk.
///
/// Missing values cost nothing per node: each row is expanded once into two copies, NaN replaced by -inf in the
/// first and +inf in the second, and a split whose default goes right reads the second copy. A NaN then lands
/// on the default side of every split through the same comparison; finite and infinite values are unchanged.
///
/// A walk is a chain of dependent loads, so the evaluator always runs <see cref="Lanes"/> independent chains
/// side by side and lets the processor overlap them: a batch walks eight rows through one tree (the expanded
/// rows interleaved feature by feature, so every lane reads at a fixed offset from one base); a single row
/// walks eight trees at once (their nodes interleaved the same way, in groups of eight consecutive trees).
/// Every row's margin is still summed in float, base margin first, tree by tree in model order, exactly as
/// XGBoost does, so results agree with XGBoost to the last bit or so (the transform's exp may differ by an ulp).
/// </summary>
internal sealed partial class TreeEnsemble
{
    public const int MaxCompleteDepth = 8;
    public const int Lanes = 8;

    [StructLayout(LayoutKind.Sequential)]
    private struct Split
    {
        public int Feature;   // index into an expanded row: (feature + features if the default goes right) * Lanes
        public float Threshold;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct FlatNode
    {
        public int Feature;   // as Split.Feature; -1 for a leaf
        public float Value;   // threshold, or the leaf value
        public int Left;
        public int Right;
    }

    private readonly int _features;
    private readonly int _classes;
    private readonly float[] _baseMargins;
    private readonly RawTree[] _trees;

    // Per tree: the complete layout (depth >= 0) or flat nodes (depth -1).
    private readonly int[] _depth;
    private readonly int[] _splitOffset;  // complete: first split; flat: first node
    private readonly int[] _leafOffset;
    private readonly int[] _class;
    private readonly int[] _splitFeature;      // the splits as two parallel arrays, so each load folds its
    private readonly float[] _splitThreshold;  // index into the addressing mode
    private readonly float[] _leaves;
    private readonly FlatNode[] _flat;

    // Per group of eight consecutive complete trees, padded to the group's largest depth and interleaved node
    // by node: node i of the group's tree j is at groupSplits[offset + i * Lanes + j]. Depth -1: walk per tree.
    private readonly int[] _groupDepth;
    private readonly int[] _groupSplitOffset;
    private readonly int[] _groupLeafOffset;
    private readonly int[] _groupFeature;
    private readonly float[] _groupThreshold;
    private readonly float[] _groupLeaves;

    public TreeEnsemble(IReadOnlyList<RawTree> trees, int features, float[] baseMargins)
    {
        _features = features;
        _classes = baseMargins.Length;
        _baseMargins = baseMargins;
        _trees = trees.ToArray();
        int count = _trees.Length;
        _depth = new int[count];
        _splitOffset = new int[count];
        _leafOffset = new int[count];
        _class = new int[count];
        var splits = new List<Split>();
        var leaves = new List<float>();
        var flat = new List<FlatNode>();
        for (int t = 0; t < count; t++)
        {
            RawTree tree = _trees[t];
            _class[t] = tree.Class;
            int depth = tree.Depth;
            if (depth <= MaxCompleteDepth)
            {
                _depth[t] = depth;
                _splitOffset[t] = splits.Count;
                _leafOffset[t] = leaves.Count;
                var (treeSplits, treeLeaves) = Complete(tree, depth);
                splits.AddRange(treeSplits);
                leaves.AddRange(treeLeaves);
            }
            else
            {
                _depth[t] = -1;
                _splitOffset[t] = flat.Count;
                for (int i = 0; i < tree.Nodes; i++)
                {
                    flat.Add(tree.IsLeaf(i)
                        ? new FlatNode { Feature = -1, Value = tree.LeafValue(i) }
                        : new FlatNode { Feature = SplitFeature(tree, i), Value = tree.Threshold[i], Left = tree.Left[i], Right = tree.Right[i] });
                }
            }
        }
        // A spare entry so a zero-depth tree at the end still has its (unread) split offset inside the array.
        splits.Add(default);
        (_splitFeature, _splitThreshold) = Columns(splits);
        _leaves = leaves.ToArray();
        _flat = flat.ToArray();

        int groups = (count + Lanes - 1) / Lanes;
        _groupDepth = new int[groups];
        _groupSplitOffset = new int[groups];
        _groupLeafOffset = new int[groups];
        var groupSplits = new List<Split>();
        var groupLeaves = new List<float>();
        for (int g = 0; g < groups; g++)
        {
            int first = g * Lanes;
            bool whole = first + Lanes <= count && _depth.AsSpan(first, Lanes).IndexOf(-1) < 0;
            if (!whole)
            {
                _groupDepth[g] = -1;
                continue;
            }
            int depth = _depth.AsSpan(first, Lanes).ToArray().Max();
            _groupDepth[g] = depth;
            _groupSplitOffset[g] = groupSplits.Count;
            _groupLeafOffset[g] = groupLeaves.Count;
            var interleavedSplits = new Split[((1 << depth) - 1) * Lanes];
            var interleavedLeaves = new float[(1 << depth) * Lanes];
            for (int j = 0; j < Lanes; j++)
            {
                var (treeSplits, treeLeaves) = Complete(_trees[first + j], depth);
                for (int i = 0; i < treeSplits.Length; i++)
                {
                    interleavedSplits[(i * Lanes) + j] = treeSplits[i];
                }
                for (int i = 0; i < treeLeaves.Length; i++)
                {
                    interleavedLeaves[(i * Lanes) + j] = treeLeaves[i];
                }
            }
            groupSplits.AddRange(interleavedSplits);
            groupLeaves.AddRange(interleavedLeaves);
        }
        groupSplits.Add(default);
        (_groupFeature, _groupThreshold) = Columns(groupSplits);
        _wideLeaves = WideLeaves();
        _wideFeature = _wideLeaves is null ? null : WideFeatures();
        _groupLeaves = groupLeaves.ToArray();
    }

    public int Classes => _classes;

    /// <summary>The trees as XGBoost stores them, in model order (the GPU evaluator lays them out its own way).</summary>
    public IReadOnlyList<RawTree> RawTrees => _trees;

    /// <summary>The margin each class's sum starts from.</summary>
    public ReadOnlySpan<float> BaseMargins => _baseMargins;

    public int Trees => _trees.Length;

    /// <summary>How many trees use the complete layout (the rest walk flat nodes).</summary>
    public int CompleteTrees => _depth.Count(d => d >= 0);

    private int SplitFeature(RawTree tree, int node) => (tree.Feature[node] + (tree.DefaultLeft[node] ? 0 : _features)) * Lanes;

    private static (int[] Features, float[] Thresholds) Columns(List<Split> splits) =>
        (splits.Select(x => x.Feature).ToArray(), splits.Select(x => x.Threshold).ToArray());

    // The tree as a complete binary tree of the given depth (at least its own).
    private (Split[] Splits, float[] Leaves) Complete(RawTree tree, int depth)
    {
        var splits = new Split[(1 << depth) - 1];
        var leaves = new float[1 << depth];
        Lay(tree, 0, 0, 0, depth, splits, leaves);
        return (splits, leaves);
    }

    private void Lay(RawTree tree, int node, int pos, int level, int depth, Split[] splits, float[] leaves)
    {
        if (tree.IsLeaf(node))
        {
            // Every leaf position under pos gets this value; the splits under it may say anything.
            int first = pos, span = 1;
            for (int l = level; l < depth; l++)
            {
                first = (2 * first) + 1;
                span *= 2;
            }
            Array.Fill(leaves, tree.LeafValue(node), first - splits.Length, span);
            return;
        }
        splits[pos] = new Split { Feature = SplitFeature(tree, node), Threshold = tree.Threshold[node] };
        Lay(tree, tree.Left[node], (2 * pos) + 1, level + 1, depth, splits, leaves);
        Lay(tree, tree.Right[node], (2 * pos) + 2, level + 1, depth, splits, leaves);
    }

    /// <summary>Writes the row's two NaN-resolved copies into lane <paramref name="lane"/> of an expanded block.</summary>
    private void Expand(ReadOnlySpan<float> row, Span<float> block, int lane)
    {
        int f = _features;
        for (int i = 0; i < f; i++)
        {
            float x = row[i];
            bool missing = float.IsNaN(x);
            block[(i * Lanes) + lane] = missing ? float.NegativeInfinity : x;
            block[((f + i) * Lanes) + lane] = missing ? float.PositiveInfinity : x;
        }
    }

    /// <summary>One row's margins, one per class. Allocates nothing.</summary>
    // The expanded row is fully written before it is read; skipping the zeroing of ~2.5 KB of stack matters here.
    [SkipLocalsInit]
    public void Margins(ReadOnlySpan<float> row, Span<float> margins)
    {
        int width = 2 * _features * Lanes;
        float[]? rented = null;
        Span<float> expanded = width <= 8192 ? stackalloc float[width] : (rented = ArrayPool<float>.Shared.Rent(width));
        Expand(row, expanded, 0);
        _baseMargins.CopyTo(margins);
        ref float x = ref MemoryMarshal.GetReference(expanded);
        ref int features = ref MemoryMarshal.GetArrayDataReference(_groupFeature);
        ref float thresholds = ref MemoryMarshal.GetArrayDataReference(_groupThreshold);
        ref float leaves = ref MemoryMarshal.GetArrayDataReference(_groupLeaves);
        for (int g = 0; g < _groupDepth.Length; g++)
        {
            int depth = _groupDepth[g], first = g * Lanes;
            if (depth < 0)
            {
                for (int t = first; t < Math.Min(first + Lanes, _depth.Length); t++)
                {
                    margins[_class[t]] += Walk(t, ref x);
                }
                continue;
            }
            // Eight trees at once: node i of tree j sits at i * Lanes + j.
            ref int sf = ref Unsafe.Add(ref features, _groupSplitOffset[g]);
            ref float st = ref Unsafe.Add(ref thresholds, _groupSplitOffset[g]);
            nint i0 = 0, i1 = 1, i2 = 2, i3 = 3, i4 = 4, i5 = 5, i6 = 6, i7 = 7;
            for (int d = 0; d < depth; d++)
            {
                i0 = NextInGroup(ref sf, ref st, ref x, i0, 0);
                i1 = NextInGroup(ref sf, ref st, ref x, i1, 1);
                i2 = NextInGroup(ref sf, ref st, ref x, i2, 2);
                i3 = NextInGroup(ref sf, ref st, ref x, i3, 3);
                i4 = NextInGroup(ref sf, ref st, ref x, i4, 4);
                i5 = NextInGroup(ref sf, ref st, ref x, i5, 5);
                i6 = NextInGroup(ref sf, ref st, ref x, i6, 6);
                i7 = NextInGroup(ref sf, ref st, ref x, i7, 7);
            }
            ref float l = ref Unsafe.Add(ref leaves, _groupLeafOffset[g] - (((1 << depth) - 1) * Lanes));
            // Added strictly in tree order, as XGBoost sums.
            margins[_class[first]] += Unsafe.Add(ref l, i0);
            margins[_class[first + 1]] += Unsafe.Add(ref l, i1);
            margins[_class[first + 2]] += Unsafe.Add(ref l, i2);
            margins[_class[first + 3]] += Unsafe.Add(ref l, i3);
            margins[_class[first + 4]] += Unsafe.Add(ref l, i4);
            margins[_class[first + 5]] += Unsafe.Add(ref l, i5);
            margins[_class[first + 6]] += Unsafe.Add(ref l, i6);
            margins[_class[first + 7]] += Unsafe.Add(ref l, i7);
        }
        if (rented is not null)
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    // One tree for one row (read at lane offset 0 of x).
    private float Walk(int tree, ref float x)
    {
        int depth = _depth[tree];
        if (depth < 0)
        {
            return FlatWalk(tree, ref x);
        }
        ref int sf = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_splitFeature), _splitOffset[tree]);
        ref float st = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_splitThreshold), _splitOffset[tree]);
        nint i = 0;
        for (int d = 0; d < depth; d++)
        {
            i = Next(ref sf, ref st, ref x, i, 0);
        }
        return _leaves[_leafOffset[tree] + i - ((1 << depth) - 1)];
    }

    /// <summary>
    /// Margins of many rows (row-major), <see cref="Classes"/> per row. Rows go in blocks of up to
    /// <see cref="BlockSets"/> sets of <see cref="Lanes"/>: each tree walks every set of the block before the
    /// next tree starts (it measured no faster than one set at a time on a 2-core EPYC, where the model already
    /// fits L2, but keeps a large model's nodes in L1 across sets). Models whose trees are all at most six deep take the AVX-512 path instead where the
    /// processor has it, unless <c>allowWide</c> is false (tests and benchmarks of the scalar path).
    /// </summary>
    public void MarginsBatch(ReadOnlySpan<float> rows, int rowCount, Span<float> margins, bool allowWide = true)
    {
        if (allowWide && _wideLeaves is not null)
        {
            MarginsBatchWide(rows, rowCount, margins);
            return;
        }
        int f = _features, k = _classes, width = 2 * f * Lanes;
        float[] expanded = ArrayPool<float>.Shared.Rent(width * BlockSets);
        try
        {
            int r = 0;
            while (rowCount - r >= Lanes)
            {
                int sets = Math.Min(BlockSets, (rowCount - r) / Lanes);
                for (int set = 0; set < sets; set++)
                {
                    for (int lane = 0; lane < Lanes; lane++)
                    {
                        Expand(rows.Slice((r + (set * Lanes) + lane) * f, f), expanded.AsSpan(set * width, width), lane);
                    }
                }
                Span<float> block = margins.Slice(r * k, sets * Lanes * k);
                for (int row = 0; row < sets * Lanes; row++)
                {
                    _baseMargins.CopyTo(block.Slice(row * k, k));
                }
                WalkBlock(expanded, width, sets, block);
                r += sets * Lanes;
            }
            for (; r < rowCount; r++)
            {
                Margins(rows.Slice(r * f, f), margins.Slice(r * k, k));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(expanded);
        }
    }

    public const int BlockSets = 8;

    // Tree by tree over a block: eight rows of a set walk each tree together (lane j reads feature index
    // n.Feature + j of the set's interleaved rows, so all eight share one base address), set after set.
    private void WalkBlock(float[] expanded, int width, int sets, Span<float> block)
    {
        int k = _classes;
        ref float x0 = ref MemoryMarshal.GetArrayDataReference(expanded);
        ref float m = ref MemoryMarshal.GetReference(block);
        ref int features = ref MemoryMarshal.GetArrayDataReference(_splitFeature);
        ref float thresholds = ref MemoryMarshal.GetArrayDataReference(_splitThreshold);
        ref float leaves = ref MemoryMarshal.GetArrayDataReference(_leaves);
        int[] depths = _depth, splitOffsets = _splitOffset, leafOffsets = _leafOffset, classes = _class;
        for (int t = 0; t < depths.Length; t++)
        {
            int depth = depths[t], c = classes[t];
            if (depth < 0)
            {
                for (int row = 0; row < sets * Lanes; row++)
                {
                    Unsafe.Add(ref m, (row * k) + c) += FlatWalk(t, ref Unsafe.Add(ref x0, ((row / Lanes) * width) + (row % Lanes)));
                }
                continue;
            }
            ref int sf = ref Unsafe.Add(ref features, splitOffsets[t]);
            ref float st = ref Unsafe.Add(ref thresholds, splitOffsets[t]);
            ref float l = ref Unsafe.Add(ref leaves, leafOffsets[t] - ((1 << depth) - 1));
            for (int set = 0; set < sets; set++)
            {
                ref float x = ref Unsafe.Add(ref x0, set * width);
                // Native-sized indices and one statement per lane: offsets fold into addressing modes and
                // nothing spills; the processor overlaps the eight chains.
                nint i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;
                for (int d = 0; d < depth; d++)
                {
                    i0 = Next(ref sf, ref st, ref x, i0, 0);
                    i1 = Next(ref sf, ref st, ref x, i1, 1);
                    i2 = Next(ref sf, ref st, ref x, i2, 2);
                    i3 = Next(ref sf, ref st, ref x, i3, 3);
                    i4 = Next(ref sf, ref st, ref x, i4, 4);
                    i5 = Next(ref sf, ref st, ref x, i5, 5);
                    i6 = Next(ref sf, ref st, ref x, i6, 6);
                    i7 = Next(ref sf, ref st, ref x, i7, 7);
                }
                // Row set*8+j's margin for class c, added in tree order.
                ref float mm = ref Unsafe.Add(ref m, (set * Lanes * k) + c);
                mm += Unsafe.Add(ref l, i0);
                Unsafe.Add(ref mm, k) += Unsafe.Add(ref l, i1);
                Unsafe.Add(ref mm, 2 * k) += Unsafe.Add(ref l, i2);
                Unsafe.Add(ref mm, 3 * k) += Unsafe.Add(ref l, i3);
                Unsafe.Add(ref mm, 4 * k) += Unsafe.Add(ref l, i4);
                Unsafe.Add(ref mm, 5 * k) += Unsafe.Add(ref l, i5);
                Unsafe.Add(ref mm, 6 * k) += Unsafe.Add(ref l, i6);
                Unsafe.Add(ref mm, 7 * k) += Unsafe.Add(ref l, i7);
            }
        }
    }

    private float FlatWalk(int tree, ref float x)
    {
        ref FlatNode nodes = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_flat), _splitOffset[tree]);
        int i = 0;
        while (true)
        {
            FlatNode n = Unsafe.Add(ref nodes, i);
            if (n.Feature < 0)
            {
                return n.Value;
            }
            i = Unsafe.Add(ref x, n.Feature) >= n.Value ? n.Right : n.Left;
        }
    }

    // One step of lane j of a batch: this tree's node i, row j's value (rows interleaved by feature).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint Next(ref int features, ref float thresholds, ref float x, nint i, nint lane) =>
        (2 * i) + 1 + Step(Unsafe.Add(ref x, Unsafe.Add(ref features, i) + lane), Unsafe.Add(ref thresholds, i));

    // One step of tree j of a group for one row. The index j carries is node * Lanes + j, where node i of tree
    // j sits, so it addresses the split directly: from node i the children are at 2i+1 and 2i+2, that is
    // 2j - tree + Lanes (+ Lanes to go right) in carried form.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint NextInGroup(ref int features, ref float thresholds, ref float x, nint j, nint tree) =>
        (2 * j) - tree + ((1 + Step(Unsafe.Add(ref x, (nint)Unsafe.Add(ref features, j)), Unsafe.Add(ref thresholds, j))) * Lanes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Step(float x, float threshold)
    {
        bool right = x >= threshold;
        return Unsafe.As<bool, byte>(ref right);
    }

    /// <summary>
    /// The plain reference: walks XGBoost's own node arrays, a missing value to the default child, no layout
    /// tricks. Tests hold the fast paths to it on every row.
    /// </summary>
    public void ReferenceMargins(ReadOnlySpan<float> row, Span<float> margins)
    {
        _baseMargins.CopyTo(margins);
        foreach (RawTree tree in _trees)
        {
            int i = 0;
            while (!tree.IsLeaf(i))
            {
                float v = row[tree.Feature[i]];
                i = float.IsNaN(v)
                    ? (tree.DefaultLeft[i] ? tree.Left[i] : tree.Right[i])
                    : (v < tree.Threshold[i] ? tree.Left[i] : tree.Right[i]);
            }
            margins[tree.Class] += tree.LeafValue(i);
        }
    }
}
