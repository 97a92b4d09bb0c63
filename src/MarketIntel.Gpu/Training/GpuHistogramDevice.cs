using ILGPU;
using ILGPU.Runtime;
using MarketIntel.Training;
using MarketIntel.Training.Devices;

namespace MarketIntel.Gpu.Training;

/// <summary>
/// The booster's row work on an ILGPU accelerator (CUDA, or ILGPU's CPU accelerator in tests): the quantized matrix,
/// the labels and every row's margin are uploaded once and stay on the device with the row order and the level's
/// histograms. Each tree computes its gradient pairs from the margins there, each level brings back the children's
/// histograms for split finding on the host, and the finished tree goes up to add its leaf values to the margins:
/// per round only the tree, a sample's row numbers and the histograms cross. Histograms are summed in fixed point (<see cref="FixedPoint"/>), so a model is the same on every run;
/// the larger child's histogram is its parent's minus the smaller child's, which in integers is exact.
/// </summary>
/// <remarks>The caller owns the accelerator; this holds buffers on it until disposed.</remarks>
public sealed class GpuHistogramDevice : IHistogramDevice
{
    private const int BlockRows = 4096;   // rows a histogram group sums
    private const int ChunkRows = 4096;   // rows a partition group takes

    private readonly Accelerator _accelerator;
    private readonly int _group;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<long>, double, double> _toFixed;
    private readonly Action<Index1D, ArrayView<double>, ArrayView<float>, ArrayView<float>, int> _gradients;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<int>> _largest;
    private readonly Action<Index1D, DeviceMatrix, DeviceTree, ArrayView<double>> _addLeafValues;
    private readonly Action<Index1D, ArrayView<int>> _iota;
    private readonly Action<Index1D, ArrayView<long>, ArrayView<long>, ArrayView<long>> _subtract;
    private readonly Action<KernelConfig, DeviceMatrix, ArrayView<int>, int, int, int, ArrayView<long>, ArrayView<long>> _histogram;
    private readonly Action<KernelConfig, DeviceMatrix, ArrayView<int>, LevelChunks> _countLeft;
    private readonly Action<KernelConfig, DeviceMatrix, ArrayView<int>, ArrayView<int>, LevelChunks> _scatter;

    private readonly List<MemoryBuffer> _matrixBuffers = [];
    private DeviceMatrix _matrix;
    private int _rows;
    private int _slots;
    private int _windows;
    private MemoryBuffer1D<float, Stride1D.Dense>? _pairs;
    private MemoryBuffer1D<long, Stride1D.Dense>? _fixedPairs;
    private MemoryBuffer1D<int, Stride1D.Dense>? _order;
    private MemoryBuffer1D<float, Stride1D.Dense>? _labels;
    private MemoryBuffer1D<double, Stride1D.Dense>? _margins;
    private MemoryBuffer1D<int, Stride1D.Dense>? _largestBits;
    private MemoryBuffer1D<int, Stride1D.Dense>? _treeInts;
    private MemoryBuffer1D<float, Stride1D.Dense>? _treeValues;
    private bool _logistic;
    private MemoryBuffer1D<int, Stride1D.Dense>? _scratch;
    private MemoryBuffer1D<long, Stride1D.Dense>? _levelHist;
    private MemoryBuffer1D<long, Stride1D.Dense>? _nextHist;
    private FixedPoint _scale;
    private readonly List<(int Start, int Count)> _level = [];
    private long[] _download = [];

    /// <summary>Compiles the kernels for <paramref name="accelerator"/>.</summary>
    public GpuHistogramDevice(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        const int SharedBytes = 2 * HistogramKernels.WindowSlots * sizeof(long);
        if (accelerator.MaxSharedMemoryPerGroup < SharedBytes)
        {
            throw new NotSupportedException($"accelerator {accelerator.Name} offers {accelerator.MaxSharedMemoryPerGroup} bytes of shared memory a group; the histogram kernel needs {SharedBytes}");
        }
        _accelerator = accelerator;
        _group = Math.Min(HistogramKernels.MaxGroup, accelerator.MaxNumThreadsPerGroup);
        _toFixed = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<long>, double, double>(HistogramKernels.ToFixed);
        _gradients = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<float>, ArrayView<float>, int>(HistogramKernels.Gradients);
        _largest = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>>(HistogramKernels.LargestMagnitudes);
        _addLeafValues = accelerator.LoadAutoGroupedStreamKernel<Index1D, DeviceMatrix, DeviceTree, ArrayView<double>>(HistogramKernels.AddLeafValues);
        _iota = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>>(HistogramKernels.Iota);
        _subtract = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<long>, ArrayView<long>, ArrayView<long>>(HistogramKernels.Subtract);
        _histogram = accelerator.LoadStreamKernel<DeviceMatrix, ArrayView<int>, int, int, int, ArrayView<long>, ArrayView<long>>(HistogramKernels.Histogram);
        _countLeft = accelerator.LoadStreamKernel<DeviceMatrix, ArrayView<int>, LevelChunks>(HistogramKernels.CountLeft);
        _scatter = accelerator.LoadStreamKernel<DeviceMatrix, ArrayView<int>, ArrayView<int>, LevelChunks>(HistogramKernels.Scatter);
    }

    /// <summary>The fixed-point histogram of the level's k-th node as the device holds it (g, h per slot): for tests, which check it to the bit.</summary>
    internal long[] LevelHistogram(int k)
    {
        var hist = new long[2 * _slots];
        _levelHist!.AsContiguous().SubView((long)k * 2 * _slots, 2 * _slots).CopyToCPU(hist.AsSpan());
        return hist;
    }

    /// <summary>The rows of the level's k-th node in the device's order: for tests of the partition's stability.</summary>
    internal int[] LevelRows(int k)
    {
        (int start, int count) = _level[k];
        var rows = new int[count];
        if (count > 0)
        {
            _order!.AsContiguous().SubView(start, count).CopyToCPU(rows.AsSpan());
        }
        return rows;
    }

    /// <summary>
    /// Sums the root's histogram again, after <see cref="StartTree(int[], int, Span{double})"/>, and waits for the device: the histogram kernel
    /// alone, for the benchmark's throughput figure. Returns the bytes the kernel reads from device memory (each
    /// row's stored bins once, and its position and fixed-point pair once per window of slots).
    /// </summary>
    internal long RebuildRootHistogram()
    {
        (int start, int count) = _level[0];
        ArrayView<long> root = _levelHist!.AsContiguous().SubView(0, 2L * _slots);
        root.MemSetToZero();
        Accumulate(start, count, root);
        _accelerator.Synchronize();
        int binBytes = _matrix.Narrow != 0 ? 1 : 2;
        return (long)count * (_matrix.Features * binBytes + _windows * (sizeof(int) + 2 * sizeof(long)));
    }

    /// <summary>Every row's margin as the device holds it: for tests, which check it against the host's.</summary>
    internal double[] Margins()
    {
        var margins = new double[_rows];
        _margins!.AsContiguous().SubView(0, _rows).CopyToCPU(margins.AsSpan());
        return margins;
    }

    /// <summary>The gradient pairs of the tree being grown (g, h per row): for tests, which check them against the host's formulas.</summary>
    internal float[] GradientPairs()
    {
        var pairs = new float[2 * _rows];
        _pairs!.AsContiguous().SubView(0, 2L * _rows).CopyToCPU(pairs.AsSpan());
        return pairs;
    }

    /// <summary>The scales of the tree being grown.</summary>
    internal FixedPoint Scale => _scale;

    /// <inheritdoc />
    public void Load(QuantizedMatrix matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        FreeMatrix();
        int features = matrix.Features;
        _rows = matrix.Rows;
        var binBase = new int[features];
        var storedSlot = new int[features];
        var start = new int[features + 1];
        for (int f = 0; f < features; f++)
        {
            binBase[f] = matrix.BinBase(f);
            start[f + 1] = start[f] + matrix.BinCount(f);
            storedSlot[f] = start[f] + binBase[f];
        }
        _slots = start[^1];
        // Windows of slots one shared-memory histogram holds; a feature straddling two is read by both.
        _windows = (_slots + HistogramKernels.WindowSlots - 1) / HistogramKernels.WindowSlots;
        var windowFirst = new int[_windows];
        var windowLast = new int[_windows];
        for (int w = 0; w < _windows; w++)
        {
            int lo = w * HistogramKernels.WindowSlots, hi = Math.Min(_slots, lo + HistogramKernels.WindowSlots) - 1;
            windowFirst[w] = FeatureOf(start, lo);
            windowLast[w] = FeatureOf(start, hi);
        }
        bool narrow = matrix.Bytes is not null;
        _matrix = new DeviceMatrix
        {
            Bytes = Upload(narrow ? matrix.Bytes! : [0]),
            Shorts = Upload(narrow ? [(ushort)0] : matrix.Shorts!),
            Narrow = narrow ? 1 : 0,
            Features = features,
            BinBase = Upload<int>(binBase),
            StoredSlot = Upload<int>(storedSlot),
            WindowFirst = Upload<int>(windowFirst),
            WindowLast = Upload<int>(windowLast),
            Slots = _slots,
        };
        _pairs = _accelerator.Allocate1D<float>(Math.Max(1, 2L * _rows));
        _fixedPairs = _accelerator.Allocate1D<long>(Math.Max(1, 2L * _rows));
        _order = _accelerator.Allocate1D<int>(Math.Max(1, _rows));
        _scratch = _accelerator.Allocate1D<int>(Math.Max(1, _rows));
        _largestBits = _accelerator.Allocate1D<int>(2);
    }

    /// <inheritdoc />
    public void StartTraining(ReadOnlySpan<float> labels, bool logistic, double baseMargin)
    {
        if (_pairs is null)
        {
            throw new InvalidOperationException("StartTraining before Load: the device holds no matrix");
        }
        if (labels.Length != _rows)
        {
            throw new ArgumentException($"the matrix has {_rows} rows; got {labels.Length} labels", nameof(labels));
        }
        _labels?.Dispose();
        _margins?.Dispose();
        _labels = _accelerator.Allocate1D<float>(Math.Max(1, _rows));
        _margins = _accelerator.Allocate1D<double>(Math.Max(1, _rows));
        _labels.AsContiguous().SubView(0, _rows).CopyFromCPU(labels);
        // Filled from the host once: a memset cannot write a double other than 0.
        var start = new double[_rows];
        Array.Fill(start, baseMargin);
        _margins.AsContiguous().SubView(0, _rows).CopyFromCPU(start.AsSpan());
        _logistic = logistic;
    }

    /// <inheritdoc />
    public void StartTree(int[]? sample, int count, Span<double> rootHistogram)
    {
        if (_margins is null)
        {
            throw new InvalidOperationException("StartTree before StartTraining: the device holds no labels or margins");
        }
        CheckTree(2 * _rows, sample, count, rootHistogram);
        if (_rows > 0)
        {
            _gradients(_rows, _margins.AsContiguous(), _labels!.AsContiguous(), _pairs!.AsContiguous(), _logistic ? 1 : 0);
        }
        StartTreeFromPairs(sample, count, rootHistogram);
    }

    /// <inheritdoc />
    public void FinishTree(RegressionTree tree)
    {
        ArgumentNullException.ThrowIfNull(tree);
        if (_margins is null)
        {
            throw new InvalidOperationException("FinishTree before StartTraining: the device holds no margins");
        }
        int nodes = tree.Nodes;
        if (_treeInts is null || _treeInts.Length < 5L * nodes)
        {
            _treeInts?.Dispose();
            _treeValues?.Dispose();
            _treeInts = _accelerator.Allocate1D<int>(5L * nodes);
            _treeValues = _accelerator.Allocate1D<float>(nodes);
        }
        var ints = new int[5 * nodes];
        for (int n = 0; n < nodes; n++)
        {
            ints[n] = tree.Left[n];
            ints[nodes + n] = tree.Right[n];
            ints[(2 * nodes) + n] = tree.Feature[n];
            ints[(3 * nodes) + n] = tree.SplitBin[n];
            ints[(4 * nodes) + n] = tree.DefaultLeft[n] ? 1 : 0;
        }
        ArrayView<int> view = _treeInts.AsContiguous();
        view.SubView(0, ints.Length).CopyFromCPU(ints.AsSpan());
        _treeValues!.AsContiguous().SubView(0, nodes).CopyFromCPU(tree.Condition.ToArray().AsSpan());
        var deviceTree = new DeviceTree
        {
            Left = view.SubView(0, nodes),
            Right = view.SubView(nodes, nodes),
            Feature = view.SubView(2L * nodes, nodes),
            SplitBin = view.SubView(3L * nodes, nodes),
            DefaultLeft = view.SubView(4L * nodes, nodes),
            Value = _treeValues.AsContiguous(),
        };
        if (_rows > 0)
        {
            _addLeafValues(_rows, _matrix, deviceTree, _margins.AsContiguous());
        }
    }

    private static int FeatureOf(int[] start, int slot)
    {
        int f = Array.BinarySearch(start, slot);
        return f >= 0 ? Math.Min(f, start.Length - 2) : ~f - 1;
    }

    private ArrayView<T> Upload<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        MemoryBuffer1D<T, Stride1D.Dense> buffer = _accelerator.Allocate1D<T>(values.Length);
        buffer.AsContiguous().CopyFromCPU(values);
        _matrixBuffers.Add(buffer);
        return buffer.AsContiguous();
    }

    /// <summary>
    /// Starts a tree from gradient pairs given by the host (g then h, row by row) instead of the device's margins:
    /// for the tests and the benchmark, which check histograms of chosen gradients.
    /// </summary>
    internal void StartTree(ReadOnlySpan<float> pairs, int[]? sample, int count, Span<double> rootHistogram)
    {
        CheckTree(pairs.Length, sample, count, rootHistogram);
        _pairs!.AsContiguous().SubView(0, pairs.Length).CopyFromCPU(pairs);
        StartTreeFromPairs(sample, count, rootHistogram);
    }

    private void CheckTree(int pairValues, int[]? sample, int count, Span<double> rootHistogram)
    {
        if (_pairs is null)
        {
            throw new InvalidOperationException("StartTree before Load: the device holds no matrix");
        }
        if (pairValues != 2 * _rows || count < 0 || count > _rows || (sample is not null && sample.Length < count) || rootHistogram.Length != 2 * _slots)
        {
            throw new ArgumentException($"a tree of {count} rows needs {2 * _rows} gradient values (got {pairValues}) and a histogram of {2 * _slots} (got {rootHistogram.Length})");
        }
    }

    /// <summary>The rest of a tree's start once its pairs are on the device: scales, fixed point, the root's rows and histogram.</summary>
    private void StartTreeFromPairs(int[]? sample, int count, Span<double> rootHistogram)
    {
        // The scales come from every row's pair (not only the sample's), as a host would take them.
        var largest = new int[2];
        if (_rows > 0)
        {
            _largestBits!.AsContiguous().MemSetToZero();
            _largest(2 * _rows, _pairs!.AsContiguous(), _largestBits.AsContiguous());
            _largestBits.AsContiguous().CopyToCPU(largest.AsSpan());
        }
        _scale = FixedPoint.For(BitConverter.Int32BitsToSingle(largest[0]), BitConverter.Int32BitsToSingle(largest[1]), count);
        if (_rows > 0)
        {
            _toFixed(2 * _rows, _pairs!.AsContiguous(), _fixedPairs!.AsContiguous(), _scale.GradientScale, _scale.HessianScale);
        }
        if (sample is null)
        {
            if (count > 0)
            {
                _iota(count, _order!.AsContiguous());
            }
        }
        else if (count > 0)
        {
            _order!.AsContiguous().SubView(0, count).CopyFromCPU(sample.AsSpan(0, count));
        }
        _level.Clear();
        _level.Add((0, count));
        _levelHist = Ensure(_levelHist, 2L * _slots);
        _levelHist.AsContiguous().SubView(0, 2L * _slots).MemSetToZero();
        Accumulate(0, count, _levelHist.AsContiguous().SubView(0, 2L * _slots));
        var root = new double[2 * _slots];
        Download(_levelHist.AsContiguous(), [root]);
        root.CopyTo(rootHistogram);
    }

    /// <inheritdoc />
    public void SplitLevel(ReadOnlySpan<DeviceSplit> splits, Span<int> leftCounts, double[][]? childHistograms)
    {
        if (splits.Length != _level.Count || leftCounts.Length < splits.Length)
        {
            throw new ArgumentException($"the level has {_level.Count} nodes; got {splits.Length} splits and room for {leftCounts.Length} counts");
        }
        // Chunks of each split node's rows, with the node's split.
        var from = new List<int>();
        var to = new List<int>();
        var feature = new List<int>();
        var lastBin = new List<int>();
        var defaultLeft = new List<int>();
        var chunkNode = new List<int>();
        int splitting = 0;
        for (int k = 0; k < splits.Length; k++)
        {
            if (splits[k].IsLeaf)
            {
                continue;
            }
            splitting++;
            (int start, int count) = _level[k];
            for (int a = start; a < start + count; a += ChunkRows)
            {
                from.Add(a);
                to.Add(Math.Min(start + count, a + ChunkRows));
                feature.Add(splits[k].Feature);
                lastBin.Add(splits[k].Bin);
                defaultLeft.Add(splits[k].DefaultLeft ? 1 : 0);
                chunkNode.Add(k);
            }
        }
        if (childHistograms is not null && childHistograms.Length != 2 * splitting)
        {
            throw new ArgumentException($"{splitting} nodes split: {2 * splitting} child histograms are wanted, got {childHistograms.Length}");
        }
        int chunks = from.Count;
        var buffers = new List<MemoryBuffer>();
        try
        {
            // A chunk table on the device: one value per chunk, from values (empty for the kernels' outputs).
            ArrayView<int> Temp(List<int> values)
            {
                MemoryBuffer1D<int, Stride1D.Dense> b = _accelerator.Allocate1D<int>(Math.Max(1, chunks));
                buffers.Add(b);
                if (values.Count > 0)
                {
                    b.AsContiguous().SubView(0, values.Count).CopyFromCPU(values.ToArray().AsSpan());
                }
                return b.AsContiguous();
            }
            var levelChunks = new LevelChunks
            {
                From = Temp(from),
                To = Temp(to),
                Feature = Temp(feature),
                LastBin = Temp(lastBin),
                DefaultLeft = Temp(defaultLeft),
                LeftAt = Temp([]),
                RightAt = Temp([]),
                Lefts = Temp([]),
            };
            var lefts = new int[chunks];
            if (chunks > 0)
            {
                var config = new KernelConfig(chunks, _group);
                _countLeft(config, _matrix, _order!.AsContiguous(), levelChunks);
                levelChunks.Lefts.SubView(0, chunks).CopyToCPU(lefts.AsSpan());
            }
            // Each node's left rows first, in chunk order, then its right rows.
            leftCounts[..splits.Length].Clear();
            for (int c = 0; c < chunks; c++)
            {
                leftCounts[chunkNode[c]] += lefts[c];
            }
            if (childHistograms is null)
            {
                return;   // the last level: nothing more is grown from these rows
            }
            var leftAt = new int[chunks];
            var rightAt = new int[chunks];
            int node = -1, leftNext = 0, rightNext = 0;
            for (int c = 0; c < chunks; c++)
            {
                if (chunkNode[c] != node)
                {
                    node = chunkNode[c];
                    leftNext = _level[node].Start;
                    rightNext = _level[node].Start + leftCounts[node];
                }
                leftAt[c] = leftNext;
                rightAt[c] = rightNext;
                leftNext += lefts[c];
                rightNext += to[c] - from[c] - lefts[c];
            }
            if (chunks > 0)
            {
                levelChunks.LeftAt.SubView(0, chunks).CopyFromCPU(leftAt.AsSpan());
                levelChunks.RightAt.SubView(0, chunks).CopyFromCPU(rightAt.AsSpan());
                _scatter(new KernelConfig(chunks, _group), _matrix, _order!.AsContiguous(), _scratch!.AsContiguous(), levelChunks);
                // Leaves' rows are not needed again: the scattered order replaces the old one whole.
                (_order, _scratch) = (_scratch, _order);
            }

            // Children: the smaller one's histogram built, the larger one's its parent's minus it.
            long size = 2L * _slots;
            _nextHist = Ensure(_nextHist, 2 * splitting * size);
            _nextHist.AsContiguous().SubView(0, 2 * splitting * size).MemSetToZero();
            var next = new List<(int Start, int Count)>(2 * splitting);
            int j = 0;
            for (int k = 0; k < splits.Length; k++)
            {
                if (splits[k].IsLeaf)
                {
                    continue;
                }
                (int start, int count) = _level[k];
                int left = leftCounts[k];
                bool smallLeft = left <= count - left;
                ArrayView<long> small = _nextHist.AsContiguous().SubView((2 * j + (smallLeft ? 0 : 1)) * size, size);
                ArrayView<long> large = _nextHist.AsContiguous().SubView((2 * j + (smallLeft ? 1 : 0)) * size, size);
                if (smallLeft)
                {
                    Accumulate(start, left, small);
                }
                else
                {
                    Accumulate(start + left, count - left, small);
                }
                _subtract((int)size, _levelHist!.AsContiguous().SubView(k * size, size), small, large);
                next.Add((start, left));
                next.Add((start + left, count - left));
                j++;
            }
            Download(_nextHist.AsContiguous(), childHistograms);
            (_levelHist, _nextHist) = (_nextHist, _levelHist);
            _level.Clear();
            _level.AddRange(next);
        }
        finally
        {
            foreach (MemoryBuffer b in buffers)
            {
                b.Dispose();
            }
        }
    }

    /// <summary>Adds the fixed-point pairs of the row order's positions [start, start + count) to <paramref name="hist"/>.</summary>
    private void Accumulate(int start, int count, ArrayView<long> hist)
    {
        if (count == 0)
        {
            return;
        }
        int blocks = (count + BlockRows - 1) / BlockRows;
        var config = new KernelConfig(new Index2D(blocks, _windows), new Index2D(_group, 1));
        _histogram(config, _matrix, _order!.AsContiguous(), start, count, BlockRows, _fixedPairs!.AsContiguous(), hist);
    }

    /// <summary>Copies the first histograms of <paramref name="hists"/> back, one per entry of <paramref name="into"/>, as sums (dividing by a power of two is exact).</summary>
    private void Download(ArrayView<long> hists, double[][] into)
    {
        int nodes = into.Length;
        long size = 2L * _slots;
        if (_download.Length < nodes * size)
        {
            _download = new long[nodes * size];
        }
        hists.SubView(0, nodes * size).CopyToCPU(_download.AsSpan(0, (int)(nodes * size)));
        double g = 1 / _scale.GradientScale, h = 1 / _scale.HessianScale;
        for (int n = 0; n < nodes; n++)
        {
            double[] target = into[n];
            long at = n * size;
            for (int s = 0; s < size; s += 2)
            {
                target[s] = _download[at + s] * g;
                target[s + 1] = _download[at + s + 1] * h;
            }
        }
    }

    private MemoryBuffer1D<long, Stride1D.Dense> Ensure(MemoryBuffer1D<long, Stride1D.Dense>? buffer, long length)
    {
        if (buffer is not null && buffer.Length >= length)
        {
            return buffer;
        }
        buffer?.Dispose();
        return _accelerator.Allocate1D<long>(Math.Max(length, 1));
    }

    private void FreeMatrix()
    {
        foreach (MemoryBuffer b in _matrixBuffers)
        {
            b.Dispose();
        }
        _matrixBuffers.Clear();
        _pairs?.Dispose();
        _fixedPairs?.Dispose();
        _order?.Dispose();
        _scratch?.Dispose();
        _levelHist?.Dispose();
        _nextHist?.Dispose();
        _labels?.Dispose();
        _margins?.Dispose();
        _largestBits?.Dispose();
        _treeInts?.Dispose();
        _treeValues?.Dispose();
        (_pairs, _fixedPairs, _order, _scratch, _levelHist, _nextHist) = (null, null, null, null, null, null);
        (_labels, _margins, _largestBits, _treeInts, _treeValues) = (null, null, null, null, null);
    }

    /// <inheritdoc />
    public void Dispose() => FreeMatrix();
}
