using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MarketIntel.Inference.Xgboost;

/// <summary>
/// The AVX-512 batch path, for models whose trees are all at most <see cref="WideMaxDepth"/> deep. Sixteen rows
/// sit in the lanes of one vector, their expanded values interleaved feature by feature, so one load gives a
/// feature for all sixteen. Each tree is then evaluated level by level: every split of the level is compared
/// for all sixteen rows at once (a load, a compare, a 16-bit mask), and each row picks the mask bit of the node
/// it is at by a register permute, with no gather. Leaves (padded to 64 per tree) are picked the same way.
/// Margins are per class and per lane, added in tree order, so the results equal the scalar paths bit for bit.
/// </summary>
internal sealed partial class TreeEnsemble
{
    public const int WideMaxDepth = 6;
    private const int WideLanes = 16;
    private const int WideLeafSlots = 1 << WideMaxDepth;

    private readonly float[]? _wideLeaves;
    private readonly nint[]? _wideFeature;  // each split's feature as an offset into the 16-lane expanded block

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

    private nint[] WideFeatures() => _splitFeature.Select(f => (nint)f * (WideLanes / Lanes)).ToArray();

    private void MarginsBatchWide(ReadOnlySpan<float> rows, int rowCount, Span<float> margins)
    {
        int f = _features, k = _classes, width = 2 * f * WideLanes;
        float[] expanded = ArrayPool<float>.Shared.Rent(width);
        try
        {
            int r = 0;
            for (; r + WideLanes <= rowCount; r += WideLanes)
            {
                for (int lane = 0; lane < WideLanes; lane++)
                {
                    ReadOnlySpan<float> row = rows.Slice((r + lane) * f, f);
                    for (int i = 0; i < f; i++)
                    {
                        float x = row[i];
                        bool missing = float.IsNaN(x);
                        expanded[(i * WideLanes) + lane] = missing ? float.NegativeInfinity : x;
                        expanded[((f + i) * WideLanes) + lane] = missing ? float.PositiveInfinity : x;
                    }
                }
                WalkWide(expanded, margins.Slice(r * k, WideLanes * k));
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

    // All sixteen rows' comparison at one split: all-ones where the row goes right.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Goes(ref float x, ref nint features, ref float thresholds, nint node) =>
        Vector512.GreaterThanOrEqual(
            Vector512.LoadUnsafe(ref Unsafe.Add(ref x, Unsafe.Add(ref features, node))),
            Vector512.Create(Unsafe.Add(ref thresholds, node))).AsUInt32();

    [SkipLocalsInit]
    private void WalkWide(float[] expanded, Span<float> block)
    {
        int k = _classes;
        Span<Vector512<float>> m = stackalloc Vector512<float>[k];
        for (int c = 0; c < k; c++)
        {
            m[c] = Vector512.Create(_baseMargins[c]);
        }
        ref float x = ref MemoryMarshal.GetArrayDataReference(expanded);
        ref nint features = ref MemoryMarshal.GetArrayDataReference(_wideFeature!);
        ref float thresholds = ref MemoryMarshal.GetArrayDataReference(_splitThreshold);
        ref float leaves = ref MemoryMarshal.GetArrayDataReference(_wideLeaves!);
        for (int t = 0; t < _depth.Length; t++)
        {
            int depth = _depth[t];
            ref nint sf = ref Unsafe.Add(ref features, _splitOffset[t]);
            ref float st = ref Unsafe.Add(ref thresholds, _splitOffset[t]);
            Vector512<uint> at = Vector512<uint>.Zero;  // each lane's node within the current level
            if (depth > 0)
            {
                // The root: every lane is there.
                at = Vector512<uint>.Zero - Goes(ref x, ref sf, ref st, 0);
            }
            nint node = 1;
            for (int level = 1; level < depth; level++)
            {
                nint end = (2 * node) + 1;
                // Each lane keeps the comparison of the node it is at: all-ones where it goes right. A level
                // has an even number of nodes, so they go two at a time.
                Vector512<uint> right = Vector512<uint>.Zero;
                Vector512<uint> here = Vector512<uint>.Zero;  // the level-local number of the node compared
                Vector512<uint> two = Vector512.Create(2u);
                for (; node < end; node += 2)
                {
                    right |= Vector512.Equals(at, here) & Goes(ref x, ref sf, ref st, node);
                    right |= Vector512.Equals(at, here + Vector512<uint>.One) & Goes(ref x, ref sf, ref st, node + 1);
                    here += two;
                }
                at = at + at - right;
            }
            ref float l = ref Unsafe.Add(ref leaves, t * WideLeafSlots);
            Vector512<float> low = Avx512F.PermuteVar16x32x2(Vector512.LoadUnsafe(ref l), at.AsInt32(), Vector512.LoadUnsafe(ref l, 16));
            Vector512<float> high = Avx512F.PermuteVar16x32x2(Vector512.LoadUnsafe(ref l, 32), at.AsInt32(), Vector512.LoadUnsafe(ref l, 48));
            Vector512<float> leaf = Vector512.ConditionalSelect(Vector512.GreaterThan(at, Vector512.Create(31u)).AsSingle(), high, low);
            m[_class[t]] += leaf;
        }
        for (int c = 0; c < k; c++)
        {
            for (int lane = 0; lane < WideLanes; lane++)
            {
                block[(lane * k) + c] = m[c][lane];
            }
        }
    }
}
