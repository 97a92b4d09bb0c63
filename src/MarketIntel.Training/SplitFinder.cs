using System.Runtime.Intrinsics;

namespace MarketIntel.Training;

/// <summary>A candidate split, with the gradient sums of its left side (the right's are the node's minus them).</summary>
internal readonly record struct Split(double Gain, int Feature, int Bin, bool DefaultLeft, double GLeft, double HLeft)
{
    public static readonly Split None = new(double.NegativeInfinity, -1, 0, false, 0, 0);
}

/// <summary>
/// The rules that turn a node's gradient histogram into a tree: the best split of a feature, whether a node splits,
/// how a split and its children enter the tree, and leaf weights. The CPU grower and the device grower
/// (<see cref="Devices.DeviceTreeGrower"/>) both call these, so they differ only in where histograms come from.
/// </summary>
/// <remarks>
/// A histogram holds two doubles (g, h) per slot; feature f's slots start at <see cref="Start"/>[f] with its
/// missing bin, then its value bins.
/// </remarks>
internal sealed class SplitFinder
{
    private const double MinGain = 1e-6;   // XGBoost's kRtEps: a split must gain more than this

    private readonly QuantizedMatrix _q;
    private readonly BoostParameters _p;

    public SplitFinder(QuantizedMatrix q, BoostParameters p)
    {
        _q = q;
        _p = p;
        int features = q.Features;
        Start = new int[features + 1];
        for (int f = 0; f < features; f++)
        {
            Start[f + 1] = Start[f] + q.BinCount(f);
        }
        Candidates = (q.Cuts.Max(c => c.Length) + 3) & ~3;
    }

    /// <summary>Per feature, its first histogram slot (the missing bin); then the total number of slots.</summary>
    public int[] Start { get; }

    /// <summary>The length of the cumulative-sum buffers <see cref="Best"/> needs: the most cuts of a feature, padded to four.</summary>
    public int Candidates { get; }

    /// <summary>
    /// The best split of a node on feature <paramref name="f"/>: the cumulative sums of its histogram into
    /// <paramref name="gl"/> and <paramref name="hl"/> (scratch of <see cref="Candidates"/> values), then the scan of
    /// <see cref="SplitScan"/> over them (four bins a vector where vectors are hardware-accelerated).
    /// </summary>
    public Split Best(double[] hist, int f, double nodeG, double nodeH, double[] gl, double[] hl)
    {
        int off = Start[f] * 2;
        int n = _q.Cuts[f].Length;   // candidates: after value bins 1..n (all value bins left is no split)
        if (n == 0)
        {
            return Split.None;
        }
        double g = 0, h = 0;
        for (int j = 0; j < n; j++)
        {
            g += hist[off + 2 * (j + 1)];
            h += hist[off + 2 * (j + 1) + 1];
            gl[j] = g;
            hl[j] = h;
        }
        int padded = (n + 3) & ~3;
        for (int j = n; j < padded; j++)
        {
            gl[j] = 0;
            hl[j] = double.NaN;   // fails every min_child_weight test: never chosen
        }
        double gMissing = hist[off], hMissing = hist[off + 1];
        var scan = new SplitScan(gMissing, hMissing, nodeG, nodeH, _p.MinChildWeight, _p.Lambda, _p.Alpha);
        (double bestGain, int bestPos) = Vector256.IsHardwareAccelerated ? scan.Vector(gl, hl, n) : scan.Scalar(gl, hl, n);
        if (bestPos == 0)
        {
            return Split.None;
        }
        int bin = bestPos >> 1;
        bool missingLeft = (bestPos & 1) == 0;
        return missingLeft
            ? new Split(bestGain, f, bin, true, gl[bin - 1] + gMissing, hl[bin - 1] + hMissing)
            : new Split(bestGain, f, bin, false, gl[bin - 1], hl[bin - 1]);
    }

    /// <summary>The node's best split over its features' bests, in feature order (a tie keeps the first); <see cref="Split.None"/> when it stays a leaf.</summary>
    public Split Choose(ReadOnlySpan<Split> perFeature)
    {
        Split best = Split.None;
        foreach (Split s in perFeature)
        {
            if (s.Gain > best.Gain)
            {
                best = s;
            }
        }
        return best.Feature < 0 || !(best.Gain > MinGain) || best.Gain < _p.Gamma ? Split.None : best;
    }

    /// <summary>Adds the root of a tree whose rows sum to (g, h).</summary>
    public int AddRoot(RegressionTree tree, double g, double h) => tree.Add(-1, h, Weight(g, h));

    /// <summary>Splits <paramref name="node"/> (whose rows sum to g, h) by <paramref name="split"/>: its two children are appended, left first.</summary>
    public (int Left, int Right) Apply(RegressionTree tree, int node, Split split, double g, double h)
    {
        int l = tree.Add(node, split.HLeft, Weight(split.GLeft, split.HLeft));
        int r = tree.Add(node, h - split.HLeft, Weight(g - split.GLeft, h - split.HLeft));
        tree.Left[node] = l;
        tree.Right[node] = r;
        tree.Feature[node] = split.Feature;
        tree.SplitBin[node] = split.Bin;
        tree.Condition[node] = _q.Cuts[split.Feature][split.Bin - 1];
        tree.DefaultLeft[node] = split.DefaultLeft;
        tree.Gain[node] = (float)split.Gain;
        return (l, r);
    }

    /// <summary>Leaves hold their weight scaled by the learning rate.</summary>
    public void ScaleLeaves(RegressionTree tree)
    {
        for (int n = 0; n < tree.Nodes; n++)
        {
            if (tree.Left[n] < 0)
            {
                tree.Condition[n] = (float)(tree.Weight[n] * _p.Eta);
            }
        }
    }

    private double Weight(double g, double h) => -SplitScan.ThresholdL1(g, _p.Alpha) / (h + _p.Lambda);
}
