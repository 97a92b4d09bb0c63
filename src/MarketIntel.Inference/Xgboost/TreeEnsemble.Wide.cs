using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MarketIntel.Inference.Xgboost;

/// <summary>
/// The AVX-512 batch path, for models whose trees are all at most <see cref="WideMaxDepth"/> deep. Sixteen rows
/// sit in the lanes of one vector, their expanded values interleaved feature by feature, so one load gives a
/// feature for all sixteen. Each tree is then evaluated level by level. On the levels above
/// <see cref="WideGatherFrom"/> (at most 8 nodes each), every split of the level is compared for all sixteen rows at
/// once (a load, a compare, a 16-bit mask), the masks set one bit per node in each row's lane, and each row takes the
/// bit of the node it is at by a variable shift. From level <see cref="WideGatherFrom"/> on (16 and 32 nodes), each
/// lane instead picks its own node's feature and threshold from the level's splits held in registers (a permute) and
/// fetches its row's value by a gather: one comparison per row rather than one per node. Leaves (padded to 64 per tree) are picked by a register permute. A batch goes in runs of several
/// blocks of sixteen rows, and each tree walks every block of the run before the next tree, so the model is read
/// once per run. Margins are per class and per lane, added in tree order, so the results equal the scalar paths bit
/// for bit.
/// </summary>
internal sealed partial class TreeEnsemble
{
    public const int WideMaxDepth = 6;
    private const int WideLanes = 16;
    private const int WideLeafSlots = 1 << WideMaxDepth;

    // The first level whose lanes gather their own node's value rather than compare at every node of the level.
    // Measured on the AMD EPYC (Zen 4) of docs/performance.md with the 300-tree depth-6 bench model, per row: no
    // gathers 1.20-1.54 µs, gathers from level 5 (32 nodes) 0.97-1.26, from level 4 (16 nodes) 0.91-0.97, from level 3
    // (8 nodes) 0.90-0.99, from level 1 1.19-1.39: two 8-lane gathers cost more than comparing a level of a few
    // nodes. Level 3 gained nothing measurable, and gathers are slower on Intel processors with the gather-data-
    // sampling mitigation, so it still compares. A gathered level's splits are loaded whole into registers (16 or
    // 32), which are exactly the level's splits in a complete tree that deep: no read past a tree.
    private const int WideGatherFrom = 4;

    private readonly float[]? _wideLeaves;
    private readonly int[]? _wideFeature;   // each split's feature as an offset into the 16-lane expanded block

    /// <summary>Whether this model's batches take the AVX-512 path on this machine.</summary>
    internal bool IsWide => _wideLeaves is not null;

    // Each tree's leaves in a 64-slot row, or null when some tree is too deep (or flat) for this path.
    private float[]? WideLeaves()
    {
        if (!Avx512F.IsSupported || _depth.Any(d => d < 0 || d > WideMaxDepth))
        {
            return null;
        }
        var wide = new float[_depth.Length * WideLeafSlots];
        for (int t = 0; t < _depth.Length; t++)
        {
            Array.Copy(_leaves, _leafOffset[t], wide, t * WideLeafSlots, 1 << _depth[t]);
        }
        return wide;
    }

    private int[] WideFeatures() => _splitFeature.Select(f => f * (WideLanes / Lanes)).ToArray();

    // How many blocks of sixteen rows walk each tree together: enough that a model's nodes are read once per run of
    // blocks rather than once per block (a served version's and its shadows' models together are larger than L2),
    // few enough that the blocks' expanded rows stay within a core's 32 KB L1 data cache and their margins on a small
    // stack.
    private int WideBlocks(int width) =>
        Math.Clamp(WideBlockBytes / (width * sizeof(float)), 1, Math.Max(1, Math.Min(WideMaxBlocks, WideMaxAccumulators / _classes)));

    private const int WideBlockBytes = 32 * 1024;
    private const int WideMaxBlocks = 8;
    private const int WideMaxAccumulators = 64;  // blocks x classes vectors of margins on the stack (4 KB)

    // The fewest rows left after the whole blocks that go as one more block, its empty lanes padded, rather than one at
    // a time: a block of the 300-tree bench model costs the same however many of its lanes are rows (13.1-13.3 µs on
    // the VM of docs/performance.md), and one row at a time 2.45 µs a row, so from 6 rows on the block is cheaper
    // (14.6 µs for 6 rows one at a time, 12.3 µs for 5).
    private const int WidePaddedFrom = 6;

    private void MarginsBatchWide(ReadOnlySpan<float> rows, int rowCount, Span<float> margins)
    {
        int f = _features, k = _classes, width = 2 * f * WideLanes, most = WideBlocks(width);
        float[] expanded = ArrayPool<float>.Shared.Rent(width * most);
        try
        {
            int r = 0;
            while (rowCount - r >= WideLanes)
            {
                int blocks = Math.Min(most, (rowCount - r) / WideLanes);
                for (int b = 0; b < blocks; b++)
                {
                    ExpandWide(rows.Slice((r + (b * WideLanes)) * f, WideLanes * f), expanded.AsSpan(b * width, width));
                }
                WalkWide(expanded, width, blocks, margins.Slice(r * k, blocks * WideLanes * k));
                r += blocks * WideLanes;
            }
            if (rowCount - r >= WidePaddedFrom)
            {
                // One more block, its empty lanes repeating the last row; only the rows' own margins are kept.
                int left = rowCount - r;
                float[] padded = ArrayPool<float>.Shared.Rent(WideLanes * k);
                try
                {
                    ExpandWide(rows.Slice(r * f, left * f), expanded.AsSpan(0, width));
                    WalkWide(expanded, width, 1, padded.AsSpan(0, WideLanes * k));
                    padded.AsSpan(0, left * k).CopyTo(margins.Slice(r * k, left * k));
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(padded);
                }
                r = rowCount;
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


    // Sixteen rows' two NaN-resolved copies, interleaved feature by feature; with fewer rows, the last one fills the
    // lanes left.
    private void ExpandWide(ReadOnlySpan<float> rows, Span<float> block)
    {
        int f = _features, count = rows.Length / f;
        for (int lane = 0; lane < WideLanes; lane++)
        {
            ReadOnlySpan<float> row = rows.Slice(Math.Min(lane, count - 1) * f, f);
            for (int i = 0; i < f; i++)
            {
                float x = row[i];
                bool missing = float.IsNaN(x);
                block[(i * WideLanes) + lane] = missing ? float.NegativeInfinity : x;
                block[((f + i) * WideLanes) + lane] = missing ? float.PositiveInfinity : x;
            }
        }
    }

    // All sixteen rows' comparison at one split: all-ones where the row goes right.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Goes(ref float x, ref int features, ref float thresholds, nint node) =>
        Vector512.GreaterThanOrEqual(
            Vector512.LoadUnsafe(ref Unsafe.Add(ref x, (nint)Unsafe.Add(ref features, node))),
            Vector512.Create(Unsafe.Add(ref thresholds, node))).AsUInt32();

    // Tree by tree over the blocks: each tree's splits and leaves are read for every block before the next tree's.
    [SkipLocalsInit]
    private unsafe void WalkWide(float[] expanded, int width, int blocks, Span<float> block)
    {
        int k = _classes;
        Span<Vector512<float>> m = stackalloc Vector512<float>[blocks * k];
        for (int b = 0; b < blocks; b++)
        {
            for (int c = 0; c < k; c++)
            {
                m[(b * k) + c] = Vector512.Create(_baseMargins[c]);
            }
        }
        fixed (float* x0 = expanded)   // pinned for the gathers
        {
            WalkTrees(x0, width, blocks, m);
        }
        for (int b = 0; b < blocks; b++)
        {
            for (int c = 0; c < k; c++)
            {
                Vector512<float> sums = m[(b * k) + c];
                for (int lane = 0; lane < WideLanes; lane++)
                {
                    block[(((b * WideLanes) + lane) * k) + c] = sums[lane];
                }
            }
        }
    }

    // The blocks' margins, tree by tree; the expanded blocks are pinned by the caller, since the gathers take addresses.
    private unsafe void WalkTrees(float* x0, int width, int blocks, Span<Vector512<float>> m)
    {
        int k = _classes;
        ref int features = ref MemoryMarshal.GetArrayDataReference(_wideFeature!);
        ref float thresholds = ref MemoryMarshal.GetArrayDataReference(_splitThreshold);
        ref float leaves = ref MemoryMarshal.GetArrayDataReference(_wideLeaves!);
        for (int t = 0; t < _depth.Length; t++)
        {
            int depth = _depth[t], c = _class[t];
            ref int sf = ref Unsafe.Add(ref features, _splitOffset[t]);
            ref float st = ref Unsafe.Add(ref thresholds, _splitOffset[t]);
            ref float l = ref Unsafe.Add(ref leaves, t * WideLeafSlots);
            for (int b = 0; b < blocks; b++)
            {
                Vector512<uint> at = Leaf(x0 + (b * width), ref sf, ref st, depth);
                Vector512<float> low = Avx512F.PermuteVar16x32x2(Vector512.LoadUnsafe(ref l), at.AsInt32(), Vector512.LoadUnsafe(ref l, 16));
                Vector512<float> high = Avx512F.PermuteVar16x32x2(Vector512.LoadUnsafe(ref l, 32), at.AsInt32(), Vector512.LoadUnsafe(ref l, 48));
                // Added in tree order, per row, as the scalar paths add.
                m[(b * k) + c] += Vector512.ConditionalSelect(Vector512.GreaterThan(at, Vector512.Create(31u)).AsSingle(), high, low);
            }
        }
    }

    // The leaf each of the sixteen rows reaches in one tree (its position among the tree's 2^depth leaves).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<uint> Leaf(float* block, ref int sf, ref float st, int depth)
    {
        ref float x = ref Unsafe.AsRef<float>(block);
        Vector512<uint> at = Vector512<uint>.Zero;  // each lane's node within the current level
        int compared = Math.Min(depth, WideGatherFrom);
        if (compared > 0)
        {
            // The root: every lane is there.
            at = Vector512<uint>.Zero - Goes(ref x, ref sf, ref st, 0);
        }
        nint node = 1;
        for (int level = 1; level < compared; level++)
        {
            // Bit n of a lane says whether its row goes right at the level's node n (a level has at most 32
            // nodes); each lane then takes the bit of the node it is at with one variable shift. The comparison
            // stays a mask that selects where the bit is set, so a node costs a compare and a masked or, where
            // matching each lane's node number cost a compare, an and and an or more. Two accumulators, even and
            // odd nodes, keep the chain of dependent ors half as long.
            nint end = (2 * node) + 1;
            Vector512<uint> even = Vector512<uint>.Zero, odd = Vector512<uint>.Zero;
            Vector512<uint> bit = Vector512<uint>.One;
            for (; node < end; node += 2)
            {
                Vector512<uint> next = bit + bit;
                even = Vector512.ConditionalSelect(Goes(ref x, ref sf, ref st, node), even | bit, even);
                odd = Vector512.ConditionalSelect(Goes(ref x, ref sf, ref st, node + 1), odd | next, odd);
                bit = next + next;
            }
            at = at + at + (Avx512F.ShiftRightLogicalVariable(even | odd, at) & Vector512<uint>.One);
        }
        for (int level = compared; level < depth; level++)
        {
            // Each lane's node: its split's feature offset and threshold picked from the level's (16 or 32) by a
            // permute; its row's value, at that offset in its own lane, fetched by two 8-lane gathers.
            nint first = (1 << level) - 1;
            Vector512<int> position = at.AsInt32();
            Vector512<int> offset;
            Vector512<float> threshold;
            if (level < 5)
            {
                offset = Avx512F.PermuteVar16x32(Vector512.LoadUnsafe(ref Unsafe.Add(ref sf, first)), position);
                threshold = Avx512F.PermuteVar16x32(Vector512.LoadUnsafe(ref Unsafe.Add(ref st, first)), position);
            }
            else
            {
                offset = Avx512F.PermuteVar16x32x2(Vector512.LoadUnsafe(ref Unsafe.Add(ref sf, first)), position, Vector512.LoadUnsafe(ref Unsafe.Add(ref sf, first + 16)));
                threshold = Avx512F.PermuteVar16x32x2(Vector512.LoadUnsafe(ref Unsafe.Add(ref st, first)), position, Vector512.LoadUnsafe(ref Unsafe.Add(ref st, first + 16)));
            }
            Vector512<int> index = offset + Vector512<int>.Indices;
            Vector512<float> value = Avx2.GatherVector256(block, index.GetLower(), 4).ToVector512Unsafe()
                .WithUpper(Avx2.GatherVector256(block, index.GetUpper(), 4));
            at = at + at - Vector512.GreaterThanOrEqual(value, threshold).AsUInt32();
        }
        return at;
    }
}
