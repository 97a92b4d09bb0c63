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

    public int Depth(int node = 0) => IsLeaf(node) ? 0 : 1 + Math.Max(Depth(Left[node]), Depth(Right[node]));
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
/// Batches walk <see cref="Lanes"/> rows through each tree together: their walks are independent, so the
/// processor overlaps their load-compare chains. Every row's margin is summed in float, base margin first,
/// tree by tree in model order, exactly as XGBoost does, so results agree with XGBoost to the last bit or so
/// (the transform's exp may differ by an ulp).
/// </summary>
internal sealed class TreeEnsemble
{
    public const int MaxCompleteDepth = 8;
    public const int Lanes = 8;

    [StructLayout(LayoutKind.Sequential)]
    private struct Split
    {
        public int Feature;
        public float Threshold;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct FlatNode
    {
        public int Feature;   // -1 for a leaf
        public float Value;   // threshold, or the leaf value
        public int Left;
        public int Right;
    }

    private readonly int _features;
    private readonly int _classes;
    private readonly float[] _baseMargins;
    private readonly RawTree[] _trees;
    private readonly int[] _depth;        // complete-layout depth, or -1 for a flat tree
    private readonly int[] _splitOffset;  // complete: first split; flat: first node
    private readonly int[] _leafOffset;
    private readonly int[] _class;
    private readonly Split[] _splits;
    private readonly float[] _leaves;
    private readonly FlatNode[] _flat;

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
            int depth = tree.Depth();
            if (depth <= MaxCompleteDepth)
            {
                _depth[t] = depth;
                _splitOffset[t] = splits.Count;
                _leafOffset[t] = leaves.Count;
                var treeSplits = new Split[(1 << depth) - 1];
                var treeLeaves = new float[1 << depth];
                Lay(tree, 0, 0, 0, treeSplits, treeLeaves);
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
        _splits = splits.ToArray();
        _leaves = leaves.ToArray();
        _flat = flat.ToArray();
    }

    public int Classes => _classes;

    public int Trees => _trees.Length;

    /// <summary>How many trees use the complete layout (the rest walk flat nodes).</summary>
    public int CompleteTrees => _depth.Count(d => d >= 0);

    private int SplitFeature(RawTree tree, int node) => tree.Feature[node] + (tree.DefaultLeft[node] ? 0 : _features);

    // Fills the complete layout below position pos (at the given level) from the tree's node.
    private void Lay(RawTree tree, int node, int pos, int level, Split[] splits, float[] leaves)
    {
        int depth = (int)Math.Log2(leaves.Length);
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
        Lay(tree, tree.Left[node], (2 * pos) + 1, level + 1, splits, leaves);
        Lay(tree, tree.Right[node], (2 * pos) + 2, level + 1, splits, leaves);
    }

    /// <summary>Writes the row's two NaN-resolved copies into <paramref name="expanded"/> (2 x features).</summary>
    private void Expand(ReadOnlySpan<float> row, Span<float> expanded)
    {
        int f = _features;
        for (int i = 0; i < f; i++)
        {
            float x = row[i];
            bool missing = float.IsNaN(x);
            expanded[i] = missing ? float.NegativeInfinity : x;
            expanded[f + i] = missing ? float.PositiveInfinity : x;
        }
    }

    /// <summary>One row's margins, one per class. Allocates nothing.</summary>
    public void Margins(ReadOnlySpan<float> row, Span<float> margins)
    {
        int width = 2 * _features;
        float[]? rented = null;
        Span<float> expanded = width <= 1024 ? stackalloc float[width] : (rented = ArrayPool<float>.Shared.Rent(width));
        Expand(row, expanded);
        _baseMargins.CopyTo(margins);
        ref float x = ref MemoryMarshal.GetReference(expanded);
        ref Split splits = ref MemoryMarshal.GetArrayDataReference(_splits);
        ref float leaves = ref MemoryMarshal.GetArrayDataReference(_leaves);
        for (int t = 0; t < _depth.Length; t++)
        {
            int depth = _depth[t];
            float leaf;
            if (depth >= 0)
            {
                ref Split s = ref Unsafe.Add(ref splits, _splitOffset[t]);
                int i = 0;
                for (int d = 0; d < depth; d++)
                {
                    Split n = Unsafe.Add(ref s, i);
                    i = (2 * i) + 1 + Step(Unsafe.Add(ref x, n.Feature), n.Threshold);
                }
                leaf = Unsafe.Add(ref leaves, _leafOffset[t] + i - ((1 << depth) - 1));
            }
            else
            {
                leaf = FlatWalk(t, ref x);
            }
            margins[_class[t]] += leaf;
        }
        if (rented is not null)
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>Margins of many rows (row-major), <see cref="Classes"/> per row, walking <see cref="Lanes"/> rows at once.</summary>
    public void MarginsBatch(ReadOnlySpan<float> rows, int rowCount, Span<float> margins)
    {
        int f = _features, k = _classes, width = 2 * f;
        float[] expanded = ArrayPool<float>.Shared.Rent(width * Lanes);
        try
        {
            int r = 0;
            for (; r + Lanes <= rowCount; r += Lanes)
            {
                for (int lane = 0; lane < Lanes; lane++)
                {
                    Expand(rows.Slice((r + lane) * f, f), expanded.AsSpan(lane * width, width));
                }
                Span<float> block = margins.Slice(r * k, Lanes * k);
                for (int lane = 0; lane < Lanes; lane++)
                {
                    _baseMargins.CopyTo(block.Slice(lane * k, k));
                }
                if (k == 1)
                {
                    WalkLanesSingleClass(expanded, width, block);
                }
                else
                {
                    WalkLanes(expanded, width, block);
                }
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

    // The hot loop for one-output models: eight independent walks per tree, margins kept in registers.
    private void WalkLanesSingleClass(float[] expanded, int width, Span<float> block)
    {
        ref float x0 = ref MemoryMarshal.GetArrayDataReference(expanded);
        ref float x1 = ref Unsafe.Add(ref x0, width);
        ref float x2 = ref Unsafe.Add(ref x1, width);
        ref float x3 = ref Unsafe.Add(ref x2, width);
        ref float x4 = ref Unsafe.Add(ref x3, width);
        ref float x5 = ref Unsafe.Add(ref x4, width);
        ref float x6 = ref Unsafe.Add(ref x5, width);
        ref float x7 = ref Unsafe.Add(ref x6, width);
        ref Split splits = ref MemoryMarshal.GetArrayDataReference(_splits);
        ref float leaves = ref MemoryMarshal.GetArrayDataReference(_leaves);
        float m0 = block[0], m1 = block[1], m2 = block[2], m3 = block[3], m4 = block[4], m5 = block[5], m6 = block[6], m7 = block[7];
        int[] depths = _depth, splitOffsets = _splitOffset, leafOffsets = _leafOffset;
        for (int t = 0; t < depths.Length; t++)
        {
            int depth = depths[t];
            if (depth < 0)
            {
                m0 += FlatWalk(t, ref x0);
                m1 += FlatWalk(t, ref x1);
                m2 += FlatWalk(t, ref x2);
                m3 += FlatWalk(t, ref x3);
                m4 += FlatWalk(t, ref x4);
                m5 += FlatWalk(t, ref x5);
                m6 += FlatWalk(t, ref x6);
                m7 += FlatWalk(t, ref x7);
                continue;
            }
            ref Split s = ref Unsafe.Add(ref splits, splitOffsets[t]);
            int i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;
            for (int d = 0; d < depth; d++)
            {
                Split n0 = Unsafe.Add(ref s, i0), n1 = Unsafe.Add(ref s, i1), n2 = Unsafe.Add(ref s, i2), n3 = Unsafe.Add(ref s, i3);
                Split n4 = Unsafe.Add(ref s, i4), n5 = Unsafe.Add(ref s, i5), n6 = Unsafe.Add(ref s, i6), n7 = Unsafe.Add(ref s, i7);
                i0 = (2 * i0) + 1 + Step(Unsafe.Add(ref x0, n0.Feature), n0.Threshold);
                i1 = (2 * i1) + 1 + Step(Unsafe.Add(ref x1, n1.Feature), n1.Threshold);
                i2 = (2 * i2) + 1 + Step(Unsafe.Add(ref x2, n2.Feature), n2.Threshold);
                i3 = (2 * i3) + 1 + Step(Unsafe.Add(ref x3, n3.Feature), n3.Threshold);
                i4 = (2 * i4) + 1 + Step(Unsafe.Add(ref x4, n4.Feature), n4.Threshold);
                i5 = (2 * i5) + 1 + Step(Unsafe.Add(ref x5, n5.Feature), n5.Threshold);
                i6 = (2 * i6) + 1 + Step(Unsafe.Add(ref x6, n6.Feature), n6.Threshold);
                i7 = (2 * i7) + 1 + Step(Unsafe.Add(ref x7, n7.Feature), n7.Threshold);
            }
            ref float l = ref Unsafe.Add(ref leaves, leafOffsets[t] - ((1 << depth) - 1));
            m0 += Unsafe.Add(ref l, i0);
            m1 += Unsafe.Add(ref l, i1);
            m2 += Unsafe.Add(ref l, i2);
            m3 += Unsafe.Add(ref l, i3);
            m4 += Unsafe.Add(ref l, i4);
            m5 += Unsafe.Add(ref l, i5);
            m6 += Unsafe.Add(ref l, i6);
            m7 += Unsafe.Add(ref l, i7);
        }
        block[0] = m0;
        block[1] = m1;
        block[2] = m2;
        block[3] = m3;
        block[4] = m4;
        block[5] = m5;
        block[6] = m6;
        block[7] = m7;
    }

    // Multi-class models: the same walk, margins accumulated per class in the block.
    private void WalkLanes(float[] expanded, int width, Span<float> block)
    {
        int k = _classes;
        ref float x = ref MemoryMarshal.GetArrayDataReference(expanded);
        ref Split splits = ref MemoryMarshal.GetArrayDataReference(_splits);
        ref float leaves = ref MemoryMarshal.GetArrayDataReference(_leaves);
        Span<int> idx = stackalloc int[Lanes];
        for (int t = 0; t < _depth.Length; t++)
        {
            int depth = _depth[t], c = _class[t];
            if (depth < 0)
            {
                for (int lane = 0; lane < Lanes; lane++)
                {
                    block[(lane * k) + c] += FlatWalk(t, ref Unsafe.Add(ref x, lane * width));
                }
                continue;
            }
            ref Split s = ref Unsafe.Add(ref splits, _splitOffset[t]);
            idx.Clear();
            for (int d = 0; d < depth; d++)
            {
                for (int lane = 0; lane < Lanes; lane++)
                {
                    Split n = Unsafe.Add(ref s, idx[lane]);
                    idx[lane] = (2 * idx[lane]) + 1 + Step(Unsafe.Add(ref x, (lane * width) + n.Feature), n.Threshold);
                }
            }
            ref float l = ref Unsafe.Add(ref leaves, _leafOffset[t] - ((1 << depth) - 1));
            for (int lane = 0; lane < Lanes; lane++)
            {
                block[(lane * k) + c] += Unsafe.Add(ref l, idx[lane]);
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
