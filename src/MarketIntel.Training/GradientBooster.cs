using MarketIntel.Training.Devices;

namespace MarketIntel.Training;

/// <summary>
/// Histogram gradient boosting in the manner of XGBoost's <c>tree_method=hist</c>: features cut into at most
/// <c>max_bin</c> bins once, trees grown level by level to <c>max_depth</c> from per-node gradient histograms
/// (the larger child's histogram is the parent's minus the smaller's), each split trying missing values on both
/// sides and keeping the better (the learned default direction).
/// </summary>
public static class GradientBooster
{
    /// <summary>
    /// Trains on a row-major matrix (<paramref name="featureNames"/> columns, NaN = missing) and labels; with a
    /// <paramref name="device"/>, its histograms and row partitions replace the CPU's (the caller keeps and disposes it).
    /// </summary>
    public static BoostedTrees Train(ReadOnlySpan<float> matrix, IReadOnlyList<string> featureNames, ReadOnlySpan<float> labels, BoostParameters parameters,
        Action<int>? roundDone = null, IHistogramDevice? device = null)
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
        using var team = new WorkerTeam(threads);
        QuantizedMatrix q = QuantizedMatrix.Build(matrix, features, parameters.MaxBin, threads);
        float[] y2 = labels.ToArray();
        const float baseScore = 0.5f;
        double baseMargin = BoostedTrees.BaseMargin(parameters, baseScore);
        // A device keeps the margins and gradients itself (the same formulas, DeviceTreeGrower): the host's are for the CPU path.
        var margin = new double[device is null ? rows : 0];
        Array.Fill(margin, baseMargin);
        // Gradient and hessian of a row side by side in single precision, as XGBoost keeps them: histograms read
        // rows in partition order, so one 8-byte pair per row is what matters; sums are kept in double.
        var pairs = new float[device is null ? rows * 2 : 0];
        var trees = new List<RegressionTree>(parameters.Rounds);
        TreeGrower? grower = device is null ? new TreeGrower(q, pairs, parameters, team) : null;
        DeviceTreeGrower? deviceGrower = device is null ? null : new DeviceTreeGrower(q, y2, baseMargin, parameters, team, device);
        var random = new Random(parameters.Seed);
        var sample = new int[rows];
        const int Chunk = 16384;
        int chunks = (rows + Chunk - 1) / Chunk;
        bool binary = parameters.IsBinary;
        Action<int, int> gradients = (c, _) =>
        {
            for (int i = c * Chunk, end = Math.Min(rows, i + Chunk); i < end; i++)
            {
                if (binary)
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
            }
        };

        for (int round = 0; round < parameters.Rounds; round++)
        {
            if (grower is not null)
            {
                team.For(chunks, gradients);
            }
            int count = rows;
            if (parameters.Subsample < 1)
            {
                count = 0;
                for (int i = 0; i < rows; i++)
                {
                    if (random.NextDouble() < parameters.Subsample)
                    {
                        sample[count++] = i;
                    }
                }
            }
            bool[] allowed = FeatureSample(features, parameters.ColsampleBytree, random);
            if (deviceGrower is not null)
            {
                // The device adds the tree to its own margins.
                trees.Add(deviceGrower.Grow(count < rows ? sample : null, count, allowed));
                roundDone?.Invoke(round + 1);
                continue;
            }
            RegressionTree tree = grower!.Grow(count < rows ? sample : null, count, allowed);
            trees.Add(tree);
            if (count == rows)
            {
                // Every row went through the tree while it grew: each leaf's rows are a segment of the row order.
                List<(int Node, int[] Rows, int Start, int Count)> leaves = grower.Leaves;
                team.For(leaves.Count, (k, _) =>
                {
                    var (node, order, start, n) = leaves[k];
                    float value = tree.Condition[node];
                    for (int i = start; i < start + n; i++)
                    {
                        margin[order[i]] += value;
                    }
                });
            }
            else
            {
                team.For(chunks, (c, _) =>
                {
                    for (int i = c * Chunk, end = Math.Min(rows, i + Chunk); i < end; i++)
                    {
                        margin[i] += tree.Predict(q, i);
                    }
                });
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
}
