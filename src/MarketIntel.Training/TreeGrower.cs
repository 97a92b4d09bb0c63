using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MarketIntel.Training;

/// <summary>
/// Grows one tree level by level over a row sample, reusing its buffers from tree to tree. Each level is a few
/// parallel steps over all its nodes at once (best splits per node and feature; splitting each block of rows in
/// place; copying them to their child's segment while building the smaller child's histogram; summing the
/// blocks' histograms and subtracting them from the parent's for the larger child), so threads meet a few times
/// per level rather than per node.
/// </summary>
internal sealed class TreeGrower
{
    private const int BlockRows = 8192;    // rows in one work item of partitioning and histogram building
    private const int SlotChunk = 1024;    // histogram slots in one work item of summing histograms
    private const int Ahead = 16;          // rows ahead to prefetch the bins (and gradients) of

    private readonly QuantizedMatrix _q;
    private readonly float[] _pairs;
    private readonly BoostParameters _p;
    private readonly WorkerTeam _team;
    private readonly int _features;
    private readonly SplitFinder _finder;
    private readonly int[] _start;      // per feature, its first histogram slot (the missing bin); then the total
    private readonly int[] _stored;     // per feature, 2 x the slot of stored bin value 0 (its start plus its base)
    private readonly int _size;         // histogram slots, two doubles (g, h) each

    // Rows in segments, one per node, ordered within each segment as in the sample (a stable partition keeps rows
    // ascending, so histograms read the bins and gradients forward). Each level partitions blocks of _src into
    // the same ranges of _dst, then copies them back to their children's segments.
    private readonly int[] _src;
    private readonly int[] _dst;

    // Histograms are ~124 KB (30 features x 258 bins x 2 doubles): allocated per node they landed on the large
    // object heap and cost gen-2 collections. They are recycled instead.
    private readonly Stack<double[]> _free = new();

    private readonly List<Node> _level = [];
    private readonly List<Node> _next = [];
    private readonly List<Node> _builds = [];
    private Block[] _blocks = new Block[64];
    private int _blockCount;
    private Split[] _splits = [];
    private readonly int[] _allowed;
    private readonly double[][] _prefixG;   // per thread: a feature's cumulative sums, for split finding
    private readonly double[][] _prefixH;
    private int _allowedCount;

    private readonly Action<int, int> _findSplit;
    private readonly Action<int, int> _partition;
    private readonly Action<int, int> _place;
    private readonly Action<int, int> _buildRoot;
    private readonly Action<int, int> _reduce;

    public TreeGrower(QuantizedMatrix q, float[] pairs, BoostParameters p, WorkerTeam team)
    {
        _q = q;
        _pairs = pairs;
        _p = p;
        _team = team;
        _features = q.Features;
        _finder = new SplitFinder(q, p);
        _start = _finder.Start;
        _stored = new int[_features];
        for (int f = 0; f < _features; f++)
        {
            _stored[f] = 2 * (_start[f] + q.BinBase(f));
        }
        _size = _start[^1];
        _src = new int[q.Rows];
        _dst = new int[q.Rows];
        _allowed = new int[_features];
        int candidates = _finder.Candidates;
        _prefixG = new double[team.Threads][];
        _prefixH = new double[team.Threads][];
        for (int t = 0; t < team.Threads; t++)
        {
            _prefixG[t] = new double[candidates];
            _prefixH[t] = new double[candidates];
        }
        _findSplit = FindSplit;
        _partition = Partition;
        _place = Place;
        _buildRoot = BuildRoot;
        _reduce = Reduce;
    }

    private sealed class Node
    {
        public int Id;
        public int Start;
        public int Count;
        public double G;
        public double H;
        public double[] Hist = [];   // (g, h) per bin of every feature
        public Split Best;
        public int LeftCount;
        public Node? Left;
        public Node? Right;
        public Node? Parent;         // for a child whose histogram is built: the parent, whose histogram becomes the sibling's
        public Node? Sibling;
        public int FirstBlock;       // the blocks whose partial histograms sum to this node's
        public int Blocks;
    }

    /// <summary>A segment of a node's rows handled by one work item, and where its rows go.</summary>
    private struct Block
    {
        public Node Node;
        public int From;
        public int To;
        public int Left;        // rows going left
        public int LeftAt;      // where its left rows go in the next row order
        public int RightAt;
        public bool SmallLeft;  // which side's rows go into Part
        public bool Build;      // whether the smaller child gets a histogram
        public double[]? Part;  // its share of the smaller child's histogram (or of the root's)
    }

    /// <summary>The last tree's leaves: node, and the segment of a row order that reached it.</summary>
    public List<(int Node, int[] Rows, int Start, int Count)> Leaves { get; } = [];

    private double[] Rent()
    {
        lock (_free)
        {
            if (_free.TryPop(out double[]? hist))
            {
                Array.Clear(hist);
                return hist;
            }
        }
        return new double[_size * 2];
    }

    private void Return(double[] hist)
    {
        if (hist.Length > 0)
        {
            lock (_free)
            {
                _free.Push(hist);
            }
        }
    }

    /// <summary>Grows a tree over <paramref name="sample"/>'s first <paramref name="count"/> rows (null: every row).</summary>
    public RegressionTree Grow(int[]? sample, int count, bool[] allowed)
    {
        Leaves.Clear();
        _allowedCount = 0;
        for (int f = 0; f < _features; f++)
        {
            if (allowed[f])
            {
                _allowed[_allowedCount++] = f;
            }
        }
        for (int i = 0; i < count; i++)
        {
            _src[i] = sample is null ? i : sample[i];
        }
        var tree = new RegressionTree();
        var root = new Node { Start = 0, Count = count };

        _blockCount = 0;
        AddBlocks(root);
        _team.For(_blockCount, _buildRoot);
        _builds.Clear();
        _builds.Add(root);
        root.Hist = _blocks[0].Part!;
        _team.For(_builds.Count * ((_size + SlotChunk - 1) / SlotChunk), _reduce);
        ReturnParts();
        // Every row is in exactly one of a feature's bins: the node's sums are one feature's.
        for (int s = 2 * _start[0]; s < 2 * _start[1]; s += 2)
        {
            root.G += root.Hist[s];
            root.H += root.Hist[s + 1];
        }
        root.Id = _finder.AddRoot(tree, root.G, root.H);

        _level.Clear();
        _level.Add(root);
        for (int depth = 0; depth < _p.MaxDepth && _level.Count > 0; depth++)
        {
            bool build = depth + 1 < _p.MaxDepth;   // children at the last level can only be leaves: no histograms
            int items = _level.Count * _allowedCount;
            if (_splits.Length < items)
            {
                _splits = new Split[items * 2];
            }
            _team.For(items, _findSplit);

            // Each node's best split over features in order (a tie keeps the first), and its rows in blocks.
            _blockCount = 0;
            for (int k = 0; k < _level.Count; k++)
            {
                Node node = _level[k];
                Split best = _finder.Choose(_splits.AsSpan(k * _allowedCount, _allowedCount));
                if (best.Feature < 0)
                {
                    node.Best = Split.None;
                    Return(node.Hist);
                    node.Hist = [];
                    Leaves.Add((node.Id, _src, node.Start, node.Count));
                    continue;
                }
                node.Best = best;
                AddBlocks(node);
            }
            _team.For(_blockCount, _partition);

            // Children in node order, so nodes are numbered level by level as XGBoost numbers them.
            _next.Clear();
            _builds.Clear();
            foreach (Node node in _level)
            {
                if (node.Best.Feature < 0)
                {
                    continue;
                }
                Split best = node.Best;
                int left = 0;
                for (int i = node.FirstBlock; i < node.FirstBlock + node.Blocks; i++)
                {
                    left += _blocks[i].Left;
                }
                node.LeftCount = left;
                var l = new Node { Start = node.Start, Count = left, G = best.GLeft, H = best.HLeft };
                var r = new Node { Start = node.Start + left, Count = node.Count - left, G = node.G - best.GLeft, H = node.H - best.HLeft };
                (l.Id, r.Id) = _finder.Apply(tree, node.Id, best, node.G, node.H);
                node.Left = l;
                node.Right = r;
                _next.Add(l);
                _next.Add(r);

                // Where each block's rows go: left rows in block order from the node's start, right rows after them.
                bool smallLeft = l.Count <= r.Count;
                int leftAt = node.Start, rightAt = node.Start + left;
                for (int i = node.FirstBlock; i < node.FirstBlock + node.Blocks; i++)
                {
                    ref Block block = ref _blocks[i];
                    block.LeftAt = leftAt;
                    block.RightAt = rightAt;
                    block.SmallLeft = smallLeft;
                    block.Build = build;
                    leftAt += block.Left;
                    rightAt += block.To - block.From - block.Left;
                }
                if (build)
                {
                    Node small = smallLeft ? l : r;
                    small.Parent = node;
                    small.Sibling = smallLeft ? r : l;
                    small.FirstBlock = node.FirstBlock;
                    small.Blocks = node.Blocks;
                    _builds.Add(small);
                }
                else
                {
                    Return(node.Hist);
                    node.Hist = [];
                }
            }
            _team.For(_blockCount, _place);
            if (_builds.Count > 0)
            {
                foreach (Node small in _builds)
                {
                    small.Hist = _blocks[small.FirstBlock].Part!;
                    small.Sibling!.Hist = small.Parent!.Hist;
                    small.Parent.Hist = [];
                }
                _team.For(_builds.Count * ((_size + SlotChunk - 1) / SlotChunk), _reduce);
                ReturnParts();
            }
            _level.Clear();
            _level.AddRange(_next);
        }
        foreach (Node leaf in _level)
        {
            Return(leaf.Hist);
            leaf.Hist = [];
            Leaves.Add((leaf.Id, _src, leaf.Start, leaf.Count));
        }
        _finder.ScaleLeaves(tree);
        return tree;
    }

    /// <summary>Cuts a node's rows into blocks: at most 8, so partial histograms stay few; as many whatever the thread count.</summary>
    private void AddBlocks(Node node)
    {
        int blocks = Math.Clamp(node.Count / BlockRows, 1, 8);
        if (_blocks.Length < _blockCount + blocks)
        {
            Array.Resize(ref _blocks, Math.Max(_blocks.Length * 2, _blockCount + blocks));
        }
        node.FirstBlock = _blockCount;
        node.Blocks = blocks;
        for (int b = 0; b < blocks; b++)
        {
            _blocks[_blockCount++] = new Block
            {
                Node = node,
                From = node.Start + (int)((long)node.Count * b / blocks),
                To = node.Start + (int)((long)node.Count * (b + 1) / blocks),
            };
        }
    }

    private void ReturnParts()
    {
        foreach (Node small in _builds)
        {
            for (int i = small.FirstBlock + 1; i < small.FirstBlock + small.Blocks; i++)
            {
                Return(_blocks[i].Part!);
            }
        }
        for (int i = 0; i < _blockCount; i++)
        {
            _blocks[i].Part = null;
        }
    }

    private void BuildRoot(int item, int thread)
    {
        ref Block block = ref _blocks[item];
        double[] part = Rent();
        Accumulate(_src.AsSpan(block.From, block.To - block.From), part);
        block.Part = part;
    }

    private void FindSplit(int item, int thread) =>
        _splits[item] = BestSplit(_level[item / _allowedCount], _allowed[item % _allowedCount], thread);

    private void Partition(int item, int thread)
    {
        ref Block block = ref _blocks[item];
        Split split = block.Node.Best;
        ReadOnlySpan<int> rows = _src.AsSpan(block.From, block.To - block.From);
        Span<int> into = _dst.AsSpan(block.From, block.To - block.From);
        block.Left = _q.Bytes is { } bytes
            ? Partition(bytes, rows, into, split)
            : Partition(_q.Shorts!, rows, into, split);
    }

    /// <summary>
    /// Splits a block's rows within its own range of <see cref="_dst"/>: left rows forward from the front in order,
    /// right rows backward from the back (so in reverse order). Returns the number of left rows.
    /// </summary>
    private unsafe int Partition<TBin>(TBin[] bins, ReadOnlySpan<int> rows, Span<int> into, Split split) where TBin : unmanaged, IBinaryInteger<TBin>
    {
        int features = _features, f = split.Feature, binBase = _q.BinBase(f);
        uint last = (uint)split.Bin;
        int missingLeft = split.DefaultLeft ? 1 : 0;
        int lp = 0, rp = rows.Length - 1;
        fixed (TBin* bin0 = bins)
        {
            TBin* column = bin0 + f;
            // No branch on the side, which is random: the row is written at both ends and only its side's end moves
            // on. Until the last row lp < rp, and the slot between them that gets the extra write is filled later.
            for (int i = 0; i < rows.Length; i++)
            {
                if (Sse.IsSupported && i + Ahead < rows.Length)
                {
                    Sse.Prefetch0(column + (nint)rows[i + Ahead] * features);
                }
                int r = rows[i];
                int bin = int.CreateTruncating(column[(nint)r * features]) + binBase;
                // Bins 1..Bin go left; bin 0 (missing) goes the default way.
                int left = ((uint)(bin - 1) < last ? 1 : 0) | (bin == 0 ? missingLeft : 0);
                into[lp] = r;
                into[rp] = r;
                lp += left;
                rp -= left ^ 1;
            }
        }
        return lp;
    }

    /// <summary>Copies a partitioned block's rows to their child's segment in <see cref="_src"/> and builds its share of the smaller child's histogram.</summary>
    private void Place(int item, int thread)
    {
        ref Block block = ref _blocks[item];
        int n = block.To - block.From, right = n - block.Left;
        _dst.AsSpan(block.From, block.Left).CopyTo(_src.AsSpan(block.LeftAt, block.Left));
        ReadOnlySpan<int> reversed = _dst.AsSpan(block.From + block.Left, right);
        Span<int> to = _src.AsSpan(block.RightAt, right);
        for (int i = 0; i < right; i++)
        {
            to[i] = reversed[right - 1 - i];
        }
        if (block.Build)
        {
            double[] part = Rent();
            Accumulate(block.SmallLeft ? _src.AsSpan(block.LeftAt, block.Left) : to, part);
            block.Part = part;
        }
    }

    /// <summary>Sums partial histograms (in block order, so results do not depend on thread timing) and subtracts for the sibling.</summary>
    private void Reduce(int item, int thread)
    {
        int chunks = (_size + SlotChunk - 1) / SlotChunk;
        Node small = _builds[item / chunks];
        int from = item % chunks * SlotChunk * 2, to = Math.Min(_size, (item % chunks + 1) * SlotChunk) * 2;
        Span<double> total = small.Hist.AsSpan(from, to - from);
        for (int b = small.FirstBlock + 1; b < small.FirstBlock + small.Blocks; b++)
        {
            Add(total, _blocks[b].Part.AsSpan(from, to - from));
        }
        if (small.Sibling is { } sibling)
        {
            Subtract(sibling.Hist.AsSpan(from, to - from), total);
        }
    }

    // Without hardware vectors Vector256 runs in software, slower than the plain loop: it then does all the work,
    // as in the rest of the code base's vector paths.
    private static void Add(Span<double> total, ReadOnlySpan<double> part)
    {
        int i = 0;
        for (; Vector256.IsHardwareAccelerated && i + Vector256<double>.Count <= total.Length; i += Vector256<double>.Count)
        {
            (Vector256.Create(total.Slice(i)) + Vector256.Create(part.Slice(i))).CopyTo(total.Slice(i));
        }
        for (; i < total.Length; i++)
        {
            total[i] += part[i];
        }
    }

    private static void Subtract(Span<double> total, ReadOnlySpan<double> part)
    {
        int i = 0;
        for (; Vector256.IsHardwareAccelerated && i + Vector256<double>.Count <= total.Length; i += Vector256<double>.Count)
        {
            (Vector256.Create(total.Slice(i)) - Vector256.Create(part.Slice(i))).CopyTo(total.Slice(i));
        }
        for (; i < total.Length; i++)
        {
            total[i] -= part[i];
        }
    }

    private void Accumulate(ReadOnlySpan<int> rows, double[] hist)
    {
        if (_q.Bytes is { } bytes)
        {
            Accumulate(bytes, rows, hist);
        }
        else
        {
            Accumulate(_q.Shorts!, rows, hist);
        }
    }

    /// <summary>
    /// Adds each row's (g, h) to its bin of every feature, row by row as XGBoost's hist does: a row's bins are
    /// contiguous and its gradient pair is read once. The pair is widened to doubles once and added to a bin in one
    /// 16-byte vector. Features a tree may not split on are counted too: cheaper than skipping them.
    /// </summary>
    private unsafe void Accumulate<TBin>(TBin[] bins, ReadOnlySpan<int> rows, double[] hist) where TBin : unmanaged, IBinaryInteger<TBin>
    {
        // Unchecked indexing: rows are row numbers of the matrix and a stored bin plus its feature's slot is inside
        // the histogram by construction; bounds checks here cost a tenth of the loop.
        int features = _features;
        ref double hist0 = ref MemoryMarshal.GetArrayDataReference(hist);
        ref int stored0 = ref MemoryMarshal.GetArrayDataReference(_stored);
        fixed (TBin* bin0 = bins)
        fixed (float* pairs = _pairs)
        {
            for (int i = 0; i < rows.Length; i++)
            {
                // Below the root a node's rows are ascending with gaps the hardware prefetcher does not follow.
                if (Sse.IsSupported && i + Ahead < rows.Length)
                {
                    int next = rows[i + Ahead];
                    Sse.Prefetch0(bin0 + (nint)next * features);
                    Sse.Prefetch0(pairs + 2 * (nint)next);
                }
                int r = rows[i];
                Vector128<double> gh = Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(double*)(pairs + 2 * (nint)r)).AsSingle());
                TBin* row = bin0 + (nint)r * features;
                for (int f = 0; f < features; f++)
                {
                    ref double cell = ref Unsafe.Add(ref hist0, Unsafe.Add(ref stored0, f) + 2 * int.CreateTruncating(row[f]));
                    Vector128.StoreUnsafe(Vector128.LoadUnsafe(ref cell) + gh, ref cell);
                }
            }
        }
    }

    private Split BestSplit(Node node, int f, int thread) => _finder.Best(node.Hist, f, node.G, node.H, _prefixG[thread], _prefixH[thread]);
}
