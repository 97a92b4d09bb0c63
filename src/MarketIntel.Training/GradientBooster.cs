namespace MarketIntel.Training;

/// <summary>
/// Histogram gradient boosting in the manner of XGBoost's <c>tree_method=hist</c>: features cut into at most
/// <c>max_bin</c> bins once, trees grown level by level to <c>max_depth</c> from per-node gradient histograms
/// (the larger child's histogram is the parent's minus the smaller's), each split trying missing values on both
/// sides and keeping the better (the learned default direction).
/// </summary>
public static class GradientBooster
{
    private const double MinGain = 1e-6;   // XGBoost's kRtEps: a split must gain more than this

    /// <summary>Trains on a row-major matrix (<paramref name="featureNames"/> columns, NaN = missing) and labels.</summary>
    public static BoostedTrees Train(ReadOnlySpan<float> matrix, IReadOnlyList<string> featureNames, ReadOnlySpan<float> labels, BoostParameters parameters, Action<int>? roundDone = null)
    {
        ArgumentNullException.ThrowIfNull(featureNames);
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        int features = featureNames.Count;
        if (features == 0 || matrix.Length != labels.Length * features)
        {
            throw new ArgumentException($"{matrix.Length} values are not {labels.Length} rows of {features} features", nameof(matrix));
        }
        int rows = labels.Length;
        if (rows == 0)
        {
            throw new ArgumentException("no rows to train on", nameof(labels));
        }
        for (int i = 0; i < rows; i++)
        {
            float y = labels[i];
            if (!float.IsFinite(y) || (parameters.IsBinary && y is not (0f or 1f)))
            {
                throw new ArgumentException($"label of row {i + 1}: {y} is not {(parameters.IsBinary ? "0 or 1" : "a finite number")}", nameof(labels));
            }
        }

        int threads = parameters.Threads > 0 ? parameters.Threads : Environment.ProcessorCount;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads };
        QuantizedMatrix q = QuantizedMatrix.Build(matrix, features, parameters.MaxBin, threads);
        float[] y2 = labels.ToArray();
        const float baseScore = 0.5f;
        var margin = new double[rows];
        Array.Fill(margin, BoostedTrees.BaseMargin(parameters, baseScore));
        // Gradient and hessian of a row side by side in single precision, as XGBoost keeps them: histograms read
        // rows in partition order, so one 8-byte pair per row is what matters; sums are kept in double.
        var pairs = new float[rows * 2];
        var trees = new List<RegressionTree>(parameters.Rounds);
        var grower = new TreeGrower(q, pairs, parameters, parallel);
        var random = new Random(parameters.Seed);
        int[] all = Enumerable.Range(0, rows).ToArray();

        for (int round = 0; round < parameters.Rounds; round++)
        {
            Parallel.For(0, rows, parallel, i =>
            {
                if (parameters.IsBinary)
                {
                    double p = 1 / (1 + Math.Exp(-margin[i]));
                    pairs[2 * i] = (float)(p - y2[i]);
                    pairs[2 * i + 1] = (float)Math.Max(p * (1 - p), 1e-16);
                }
                else
                {
                    pairs[2 * i] = (float)(margin[i] - y2[i]);
                    pairs[2 * i + 1] = 1;
                }
            });
            int[] sample = parameters.Subsample < 1 ? all.Where(_ => random.NextDouble() < parameters.Subsample).ToArray() : (int[])all.Clone();
            bool[] allowed = FeatureSample(features, parameters.ColsampleBytree, random);
            RegressionTree tree = grower.Grow(sample, allowed);
            trees.Add(tree);
            if (sample.Length == rows)
            {
                // Every row went through the tree while it grew: each leaf's rows are a segment of the sample.
                Parallel.ForEach(grower.Leaves, parallel, leaf =>
                {
                    float value = tree.Condition[leaf.Node];
                    for (int i = leaf.Start; i < leaf.Start + leaf.Count; i++)
                    {
                        margin[sample[i]] += value;
                    }
                });
            }
            else
            {
                Parallel.For(0, rows, parallel, i => margin[i] += tree.Predict(q, i));
            }
            roundDone?.Invoke(round + 1);
        }
        return new BoostedTrees(parameters, featureNames.ToArray(), baseScore, trees);
    }

    private static bool[] FeatureSample(int features, double share, Random random)
    {
        var allowed = new bool[features];
        if (share >= 1)
        {
            Array.Fill(allowed, true);
            return allowed;
        }
        int keep = Math.Max(1, (int)Math.Floor(share * features));
        foreach (int f in Enumerable.Range(0, features).OrderBy(_ => random.Next()).Take(keep))
        {
            allowed[f] = true;
        }
        return allowed;
    }

    /// <summary>Grows one tree level by level over a row sample, reusing its buffers from tree to tree.</summary>
    private sealed class TreeGrower(QuantizedMatrix q, float[] pairs, BoostParameters p, ParallelOptions parallel)
    {
        private readonly int[] _offsets = Offsets(q);

        // Histograms are ~124 KB (30 features x 258 bins x 2 doubles): allocated per node they landed on the large
        // object heap and cost gen-2 collections. They are recycled instead.
        private readonly Stack<double[]> _free = new();

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
            return new double[_offsets[^1] * 2];
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

        private static int[] Offsets(QuantizedMatrix q)
        {
            var offsets = new int[q.Features + 1];
            for (int f = 0; f < q.Features; f++)
            {
                offsets[f + 1] = offsets[f] + q.BinCount(f);
            }
            return offsets;
        }

        private sealed class Node
        {
            public int Id;
            public int Start;
            public int Count;
            public double G;
            public double H;
            public double[] Hist = [];   // (g, h) per bin of every feature
        }

        /// <summary>A candidate split, with the gradient sums of its left side (the right's are the node's minus them).</summary>
        private readonly record struct Split(double Gain, int Feature, int Bin, bool DefaultLeft, double GLeft, double HLeft)
        {
            public static readonly Split None = new(double.NegativeInfinity, -1, 0, false, 0, 0);
        }

        /// <summary>The last tree's leaves: node, and the segment of the row array passed to <see cref="Grow"/> that reached it.</summary>
        public List<(int Node, int Start, int Count)> Leaves { get; } = [];

        public RegressionTree Grow(int[] rows, bool[] allowed)
        {
            Leaves.Clear();
            var tree = new RegressionTree();
            double g0 = 0, h0 = 0;
            foreach (int r in rows)
            {
                g0 += pairs[2 * r];
                h0 += pairs[2 * r + 1];
            }
            var root = new Node { Id = tree.Add(-1, h0, Weight(g0, h0)), Start = 0, Count = rows.Length, G = g0, H = h0 };
            root.Hist = Histogram(rows, root.Start, root.Count);
            var level = new List<Node> { root };
            for (int depth = 0; depth < p.MaxDepth && level.Count > 0; depth++)
            {
                // Each node's best split and row partition, all nodes of the level at once (their rows are disjoint).
                var splits = new Split[level.Count];
                var leftCounts = new int[level.Count];
                Parallel.For(0, level.Count, parallel, k =>
                {
                    Node node = level[k];
                    Split best = BestSplit(node, allowed);
                    if (best.Feature < 0 || !(best.Gain > MinGain) || best.Gain < p.Gamma)
                    {
                        splits[k] = Split.None;
                        return;
                    }
                    splits[k] = best;
                    leftCounts[k] = Partition(rows, node.Start, node.Count, best);
                });

                // Children in node order, so nodes are numbered level by level as XGBoost numbers them.
                var next = new List<Node>();
                var builds = new List<(Node Parent, Node Small, Node Large)>();
                for (int k = 0; k < level.Count; k++)
                {
                    Node node = level[k];
                    Split best = splits[k];
                    if (best.Feature < 0)
                    {
                        Return(node.Hist);
                        node.Hist = [];
                        Leaves.Add((node.Id, node.Start, node.Count));
                        continue;
                    }
                    var left = new Node { Start = node.Start, Count = leftCounts[k], G = best.GLeft, H = best.HLeft };
                    var right = new Node { Start = node.Start + leftCounts[k], Count = node.Count - leftCounts[k], G = node.G - best.GLeft, H = node.H - best.HLeft };
                    left.Id = tree.Add(node.Id, left.H, Weight(left.G, left.H));
                    right.Id = tree.Add(node.Id, right.H, Weight(right.G, right.H));
                    tree.Left[node.Id] = left.Id;
                    tree.Right[node.Id] = right.Id;
                    tree.Feature[node.Id] = best.Feature;
                    tree.SplitBin[node.Id] = best.Bin;
                    tree.Condition[node.Id] = q.Cuts[best.Feature][best.Bin - 1];
                    tree.DefaultLeft[node.Id] = best.DefaultLeft;
                    tree.Gain[node.Id] = (float)best.Gain;
                    next.Add(left);
                    next.Add(right);
                    // Children at the last level can only be leaves: they need no histogram.
                    if (depth + 1 < p.MaxDepth)
                    {
                        builds.Add(left.Count <= right.Count ? (node, left, right) : (node, right, left));
                    }
                    else
                    {
                        Return(node.Hist);
                        node.Hist = [];
                    }
                }

                // The smaller child's histogram is built; the larger one's is the parent's minus it.
                foreach (var (parent, small, large) in builds)
                {
                    small.Hist = Histogram(rows, small.Start, small.Count);
                    large.Hist = parent.Hist;
                    parent.Hist = [];
                    double[] l = large.Hist, sm = small.Hist;
                    for (int i = 0; i < l.Length; i++)
                    {
                        l[i] -= sm[i];
                    }
                }
                level = next;
            }
            foreach (Node leaf in level)
            {
                Return(leaf.Hist);
                Leaves.Add((leaf.Id, leaf.Start, leaf.Count));
            }
            // Leaves hold their weight scaled by the learning rate.
            for (int n = 0; n < tree.Nodes; n++)
            {
                if (tree.Left[n] < 0)
                {
                    tree.Condition[n] = (float)(tree.Weight[n] * p.Eta);
                }
            }
            return tree;
        }

        // Row by row, as XGBoost's hist does: each row's bins are contiguous and its gradient pair is read once.
        // Threads take blocks of rows into histograms of their own, summed at the end.
        // Features a tree may not split on are counted too: cheaper than skipping them.
        private double[] Histogram(int[] rows, int start, int count)
        {
            int size = _offsets[^1] * 2;
            int blocks = Math.Min(parallel.MaxDegreeOfParallelism, Math.Max(1, count / 8192));
            var parts = new double[blocks][];
            Parallel.For(0, blocks, parallel, b =>
            {
                double[] hist = Rent();
                int from = start + (int)((long)count * b / blocks), to = start + (int)((long)count * (b + 1) / blocks);
                ushort[] bins = q.RowBins;
                int features = q.Features;
                int[] offsets = _offsets;
                for (int i = from; i < to; i++)
                {
                    int r = rows[i];
                    double g = pairs[2 * r], h = pairs[2 * r + 1];
                    int row = r * features;
                    for (int f = 0; f < features; f++)
                    {
                        int at = (offsets[f] + bins[row + f]) * 2;
                        hist[at] += g;
                        hist[at + 1] += h;
                    }
                }
                parts[b] = hist;
            });
            double[] total = parts[0];
            for (int b = 1; b < blocks; b++)
            {
                double[] part = parts[b];
                for (int i = 0; i < size; i++)
                {
                    total[i] += part[i];
                }
                Return(part);
            }
            return total;
        }

        private Split BestSplit(Node node, bool[] allowed)
        {
            // A few thousand bins at most: cheaper in one thread than spread (the level's nodes run in parallel).
            Split best = Split.None;
            for (int f = 0; f < q.Features; f++)
            {
                if (allowed[f] && BestSplit(node, f) is { } s && s.Gain > best.Gain)
                {
                    best = s;
                }
            }
            return best;
        }

        private Split BestSplit(Node node, int f)
        {
            int off = _offsets[f] * 2;
            double[] hist = node.Hist;
            double gMissing = hist[off], hMissing = hist[off + 1];
            double parent = Score(node.G, node.H);
            Split best = Split.None;
            double gl = 0, hl = 0;
            int valueBins = q.Cuts[f].Length + 1;
            for (int j = 1; j < valueBins; j++)
            {
                gl += hist[off + j * 2];
                hl += hist[off + j * 2 + 1];
                // Missing values left, then right; a tie keeps them left.
                for (int side = 0; side < 2; side++)
                {
                    double gL = side == 0 ? gl + gMissing : gl;
                    double hL = side == 0 ? hl + hMissing : hl;
                    double gR = node.G - gL, hR = node.H - hL;
                    if (hL < p.MinChildWeight || hR < p.MinChildWeight)
                    {
                        continue;
                    }
                    double gain = Score(gL, hL) + Score(gR, hR) - parent;
                    if (gain > best.Gain)
                    {
                        best = new Split(gain, f, j, side == 0, gL, hL);
                    }
                }
            }
            return best;
        }

        private int Partition(int[] rows, int start, int count, Split split)
        {
            ushort[] bins = q.Bins[split.Feature];
            int i = start, j = start + count - 1;
            while (i <= j)
            {
                int bin = bins[rows[i]];
                bool left = bin == 0 ? split.DefaultLeft : bin <= split.Bin;
                if (left)
                {
                    i++;
                }
                else
                {
                    (rows[i], rows[j]) = (rows[j], rows[i]);
                    j--;
                }
            }
            return i - start;
        }

        private double ThresholdL1(double g) => g > p.Alpha ? g - p.Alpha : g < -p.Alpha ? g + p.Alpha : 0;

        private double Score(double g, double h)
        {
            double t = ThresholdL1(g);
            return t * t / (h + p.Lambda);
        }

        private double Weight(double g, double h) => -ThresholdL1(g) / (h + p.Lambda);
    }
}
