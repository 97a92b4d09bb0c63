using ILGPU;
using ILGPU.Runtime;
using MarketIntel.Gpu.Drift;

namespace MarketIntel.Gpu.Training;

/// <summary>The quantized matrix on the device, as the kernels read it.</summary>
internal struct DeviceMatrix
{
    /// <summary>Stored bins one byte each, row by row (used when <see cref="Narrow"/> is 1).</summary>
    public ArrayView<byte> Bytes;

    /// <summary>Stored bins two bytes each, row by row (used when <see cref="Narrow"/> is 0).</summary>
    public ArrayView<ushort> Shorts;

    public int Narrow;

    public int Features;

    /// <summary>Per feature, what is added to a stored value to give its bin (0 or 1).</summary>
    public ArrayView<int> BinBase;

    /// <summary>Per feature, the histogram slot of stored value 0 (the feature's first slot plus its base).</summary>
    public ArrayView<int> StoredSlot;

    /// <summary>Per histogram window, the first and last feature with a slot in it.</summary>
    public ArrayView<int> WindowFirst;

    public ArrayView<int> WindowLast;

    /// <summary>Histogram slots in all.</summary>
    public int Slots;

    public readonly int Stored(int row, int feature)
    {
        long at = (long)row * Features + feature;
        return Narrow != 0 ? Bytes[at] : Shorts[at];
    }

    /// <summary>Whether a row goes left at a split after <paramref name="lastBin"/> of <paramref name="feature"/>: bins 1..lastBin, or missing (bin 0) with a default left.</summary>
    public readonly bool GoesLeft(int row, int feature, int lastBin, int defaultLeft)
    {
        int bin = Stored(row, feature) + BinBase[feature];
        return bin == 0 ? defaultLeft != 0 : bin <= lastBin;
    }
}

/// <summary>A finished tree on the device: node arrays as <see cref="MarketIntel.Training.RegressionTree"/> keeps them, a leaf's left child -1.</summary>
internal struct DeviceTree
{
    public ArrayView<int> Left;
    public ArrayView<int> Right;
    public ArrayView<int> Feature;
    public ArrayView<int> SplitBin;
    public ArrayView<int> DefaultLeft;

    /// <summary>A leaf's value (a split's threshold, unused here).</summary>
    public ArrayView<float> Value;
}

/// <summary>One level's rows cut into chunks, each inside one node, with the split of its node.</summary>
internal struct LevelChunks
{
    public ArrayView<int> From;
    public ArrayView<int> To;
    public ArrayView<int> Feature;
    public ArrayView<int> LastBin;
    public ArrayView<int> DefaultLeft;

    /// <summary>Per chunk, where its first left row and its first right row go (filled between the two passes).</summary>
    public ArrayView<int> LeftAt;

    public ArrayView<int> RightAt;

    /// <summary>Per chunk, its number of left rows (the first pass's output).</summary>
    public ArrayView<int> Lefts;
}

/// <summary>
/// The training kernels. Histograms: one group per (block of a node's rows, window of histogram slots) sums its
/// rows into shared memory, then adds its non-zero slots to the node's histogram in global memory; both with
/// 64-bit integer atomics on fixed-point gradients (<see cref="FixedPoint"/>), so the result does not depend on
/// the order threads run in. Partition: two passes over chunks of each node's rows, counting then scattering,
/// each thread a contiguous run, so the partition is stable (rows keep their order within each child).
/// </summary>
internal static class HistogramKernels
{
    /// <summary>Histogram slots per window: 2 x 8 bytes each, 32 KiB of shared memory, within every CUDA device's 48 KiB.</summary>
    public const int WindowSlots = 2048;

    /// <summary>The most threads in a group; shared scratch of the partition is this long.</summary>
    public const int MaxGroup = 256;

    public static void ToFixed(Index1D i, ArrayView<float> pairs, ArrayView<long> fixedPairs, double gradientScale, double hessianScale) =>
        fixedPairs[i] = FixedPoint.ToFixed(pairs[i], (i & 1) == 0 ? gradientScale : hessianScale);

    /// <summary>
    /// A row's gradient pair from its margin, the booster's own formulas (GradientBooster) in the same precision:
    /// binary:logistic (<paramref name="logistic"/> 1) g = p - y, h = max(p (1 - p), 1e-16) with p = 1 / (1 + e^-margin);
    /// reg:squarederror g = margin - y, h = 1. The exponential is <see cref="DeviceMath.Exp"/> (within an ulp of Math.Exp).
    /// </summary>
    public static void Gradients(Index1D i, ArrayView<double> margins, ArrayView<float> labels, ArrayView<float> pairs, int logistic)
    {
        double margin = margins[i];
        float y = labels[i];
        if (logistic != 0)
        {
            double p = 1 / (1 + DeviceMath.Exp(-margin));
            double h = p * (1 - p);
            pairs[2 * i] = (float)(p - y);
            pairs[2 * i + 1] = (float)(h > 1e-16 ? h : 1e-16);
        }
        else
        {
            pairs[2 * i] = (float)(margin - y);
            pairs[2 * i + 1] = 1;
        }
    }

    /// <summary>
    /// The largest |g| (into <paramref name="largest"/>[0]) and |h| ([1]) of the pairs, as float bits: for non-negative
    /// floats the bits order as the values do (a NaN above infinity), so an integer atomic maximum finds them in any order.
    /// </summary>
    public static void LargestMagnitudes(Index1D i, ArrayView<float> pairs, ArrayView<int> largest) =>
        Atomic.Max(ref largest[i & 1], (int)(Interop.FloatAsInt(pairs[i]) & 0x7FFF_FFFFu));

    /// <summary>Adds each row's leaf value of <paramref name="tree"/> to its margin, walking the tree over the quantized matrix.</summary>
    public static void AddLeafValues(Index1D row, DeviceMatrix m, DeviceTree tree, ArrayView<double> margins)
    {
        int node = 0;
        while (tree.Left[node] >= 0)
        {
            node = m.GoesLeft(row, tree.Feature[node], tree.SplitBin[node], tree.DefaultLeft[node]) ? tree.Left[node] : tree.Right[node];
        }
        margins[row] += tree.Value[node];
    }

    public static void Iota(Index1D i, ArrayView<int> rows) => rows[i] = i;

    public static void Subtract(Index1D i, ArrayView<long> parent, ArrayView<long> small, ArrayView<long> sibling) =>
        sibling[i] = parent[i] - small[i];

    /// <summary>Grid (row blocks, windows); adds rows [start, start + count) of the row order, <paramref name="blockRows"/> a group, to <paramref name="hist"/>.</summary>
    public static void Histogram(DeviceMatrix m, ArrayView<int> order, int start, int count, int blockRows, ArrayView<long> pairs, ArrayView<long> hist)
    {
        ArrayView<long> shared = SharedMemory.Allocate<long>(2 * WindowSlots);
        int window = Grid.IdxY;
        int lo = window * WindowSlots;
        int width = Math.Min(WindowSlots, m.Slots - lo);
        for (int s = Group.IdxX; s < 2 * WindowSlots; s += Group.DimX)
        {
            shared[s] = 0;
        }
        Group.Barrier();
        int first = m.WindowFirst[window], last = m.WindowLast[window];
        int from = start + Grid.IdxX * blockRows;
        int to = Math.Min(start + count, from + blockRows);
        for (int i = from + Group.IdxX; i < to; i += Group.DimX)
        {
            int row = order[i];
            long g = pairs[2 * row], h = pairs[2 * row + 1];
            for (int f = first; f <= last; f++)
            {
                int s = m.StoredSlot[f] + m.Stored(row, f) - lo;
                if (s >= 0 && s < width)
                {
                    Atomic.Add(ref shared[2 * s], g);
                    Atomic.Add(ref shared[2 * s + 1], h);
                }
            }
        }
        Group.Barrier();
        for (int s = Group.IdxX; s < 2 * width; s += Group.DimX)
        {
            long v = shared[s];
            if (v != 0)
            {
                Atomic.Add(ref hist[2 * lo + s], v);
            }
        }
    }

    /// <summary>One group a chunk: its number of rows that go left.</summary>
    public static void CountLeft(DeviceMatrix m, ArrayView<int> order, LevelChunks c)
    {
        ArrayView<int> total = SharedMemory.Allocate<int>(1);
        int chunk = Grid.IdxX;
        if (Group.IdxX == 0)
        {
            total[0] = 0;
        }
        Group.Barrier();
        (int from, int to) = Run(c.From[chunk], c.To[chunk]);
        int lefts = 0;
        for (int i = from; i < to; i++)
        {
            lefts += m.GoesLeft(order[i], c.Feature[chunk], c.LastBin[chunk], c.DefaultLeft[chunk]) ? 1 : 0;
        }
        Atomic.Add(ref total[0], lefts);
        Group.Barrier();
        if (Group.IdxX == 0)
        {
            c.Lefts[chunk] = total[0];
        }
    }

    /// <summary>One group a chunk: its rows to <paramref name="into"/>, left rows from its LeftAt and right rows from its RightAt, each in order.</summary>
    public static void Scatter(DeviceMatrix m, ArrayView<int> order, ArrayView<int> into, LevelChunks c)
    {
        ArrayView<int> before = SharedMemory.Allocate<int>(MaxGroup);
        int chunk = Grid.IdxX;
        int feature = c.Feature[chunk], lastBin = c.LastBin[chunk], defaultLeft = c.DefaultLeft[chunk];
        (int from, int to) = Run(c.From[chunk], c.To[chunk]);
        int lefts = 0;
        for (int i = from; i < to; i++)
        {
            lefts += m.GoesLeft(order[i], feature, lastBin, defaultLeft) ? 1 : 0;
        }
        before[Group.IdxX] = lefts;
        Group.Barrier();
        if (Group.IdxX == 0)
        {
            int sum = 0;
            for (int t = 0; t < Group.DimX; t++)
            {
                int n = before[t];
                before[t] = sum;
                sum += n;
            }
        }
        Group.Barrier();
        int leftAt = c.LeftAt[chunk] + before[Group.IdxX];
        int rightAt = c.RightAt[chunk] + (from - c.From[chunk]) - before[Group.IdxX];
        for (int i = from; i < to; i++)
        {
            int row = order[i];
            if (m.GoesLeft(row, feature, lastBin, defaultLeft))
            {
                into[leftAt++] = row;
            }
            else
            {
                into[rightAt++] = row;
            }
        }
    }

    /// <summary>This thread's contiguous run of a chunk [from, to): the chunk cut into as many runs as the group has threads.</summary>
    private static (int From, int To) Run(int from, int to)
    {
        int length = to - from;
        int run = (length + Group.DimX - 1) / Group.DimX;
        int a = Math.Min(to, from + Group.IdxX * run);
        return (a, Math.Min(to, a + run));
    }
}
