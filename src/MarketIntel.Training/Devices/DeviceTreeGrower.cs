namespace MarketIntel.Training.Devices;

/// <summary>
/// Grows one tree level by level as <see cref="TreeGrower"/> does, with the gradients, the margins, the histograms
/// and the row partition done by an <see cref="IHistogramDevice"/>: each level, split finding over the level's histograms (on the CPU, node
/// and feature items spread over the team), then one device call that partitions and returns the children's
/// histograms. The rules (gains, ties, leaf weights, numbering) are <see cref="SplitFinder"/>'s, the CPU grower's.
/// </summary>
internal sealed class DeviceTreeGrower
{
    private readonly IHistogramDevice _device;
    private readonly BoostParameters _p;
    private readonly WorkerTeam _team;
    private readonly SplitFinder _finder;
    private readonly int _features;
    private readonly int _size;            // histogram slots
    private readonly double[][] _prefixG;  // per thread: a feature's cumulative sums
    private readonly double[][] _prefixH;
    private readonly int[] _allowed;
    private int _allowedCount;
    private Split[] _splits = [];
    private readonly List<Node> _level = [];
    private readonly Action<int, int> _findSplit;

    public DeviceTreeGrower(QuantizedMatrix q, ReadOnlySpan<float> labels, double baseMargin, BoostParameters p, WorkerTeam team, IHistogramDevice device)
    {
        _device = device;
        _p = p;
        _team = team;
        _finder = new SplitFinder(q, p);
        _features = q.Features;
        _size = _finder.Start[^1];
        _allowed = new int[_features];
        _prefixG = new double[team.Threads][];
        _prefixH = new double[team.Threads][];
        for (int t = 0; t < team.Threads; t++)
        {
            _prefixG[t] = new double[_finder.Candidates];
            _prefixH[t] = new double[_finder.Candidates];
        }
        _findSplit = FindSplit;
        device.Load(q);
        device.StartTraining(labels, p.IsBinary, baseMargin);
    }

    private sealed class Node
    {
        public int Id;
        public double G;
        public double H;
        public double[] Hist = [];
    }

    /// <summary>
    /// Grows a tree over <paramref name="sample"/>'s first <paramref name="count"/> rows (ascending; null: every row)
    /// from the device's margins, and adds it to them.
    /// </summary>
    public RegressionTree Grow(int[]? sample, int count, bool[] allowed)
    {
        _allowedCount = 0;
        for (int f = 0; f < _features; f++)
        {
            if (allowed[f])
            {
                _allowed[_allowedCount++] = f;
            }
        }
        var tree = new RegressionTree();
        var root = new Node { Hist = new double[2 * _size] };
        _device.StartTree(sample, count, root.Hist);
        // Every row is in exactly one of a feature's bins: the node's sums are one feature's.
        for (int s = 0; s < 2 * _finder.Start[1]; s += 2)
        {
            root.G += root.Hist[s];
            root.H += root.Hist[s + 1];
        }
        root.Id = _finder.AddRoot(tree, root.G, root.H);

        _level.Clear();
        _level.Add(root);
        var next = new List<Node>();
        for (int depth = 0; depth < _p.MaxDepth && _level.Count > 0; depth++)
        {
            int items = _level.Count * _allowedCount;
            if (_splits.Length < items)
            {
                _splits = new Split[items];
            }
            _team.For(items, _findSplit);
            var chosen = new Split[_level.Count];
            var deviceSplits = new DeviceSplit[_level.Count];
            int splitting = 0;
            for (int k = 0; k < _level.Count; k++)
            {
                chosen[k] = _finder.Choose(_splits.AsSpan(k * _allowedCount, _allowedCount));
                deviceSplits[k] = chosen[k].Feature < 0 ? DeviceSplit.Leaf : new DeviceSplit(chosen[k].Feature, chosen[k].Bin, chosen[k].DefaultLeft);
                splitting += chosen[k].Feature < 0 ? 0 : 1;
            }
            if (splitting == 0)
            {
                break;
            }
            bool build = depth + 1 < _p.MaxDepth;   // children at the last level can only be leaves: no histograms
            double[][]? childHists = null;
            if (build)
            {
                childHists = new double[2 * splitting][];
                for (int i = 0; i < childHists.Length; i++)
                {
                    childHists[i] = new double[2 * _size];
                }
            }
            _device.SplitLevel(deviceSplits, new int[_level.Count], childHists);

            // Children in node order, so nodes are numbered level by level as XGBoost numbers them.
            next.Clear();
            int j = 0;
            for (int k = 0; k < _level.Count; k++)
            {
                Node node = _level[k];
                Split best = chosen[k];
                if (best.Feature < 0)
                {
                    continue;
                }
                var l = new Node { G = best.GLeft, H = best.HLeft, Hist = childHists?[2 * j] ?? [] };
                var r = new Node { G = node.G - best.GLeft, H = node.H - best.HLeft, Hist = childHists?[2 * j + 1] ?? [] };
                (l.Id, r.Id) = _finder.Apply(tree, node.Id, best, node.G, node.H);
                next.Add(l);
                next.Add(r);
                j++;
            }
            _level.Clear();
            if (build)
            {
                _level.AddRange(next);
            }
        }
        _finder.ScaleLeaves(tree);
        _device.FinishTree(tree);
        return tree;
    }

    private void FindSplit(int item, int thread)
    {
        Node node = _level[item / _allowedCount];
        _splits[item] = _finder.Best(node.Hist, _allowed[item % _allowedCount], node.G, node.H, _prefixG[thread], _prefixH[thread]);
    }
}
