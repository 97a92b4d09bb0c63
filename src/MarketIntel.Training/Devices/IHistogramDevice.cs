namespace MarketIntel.Training.Devices;

/// <summary>
/// An accelerator that does the booster's row work: it holds the quantized matrix, the labels and the margins for the
/// whole training, computes the gradients, builds the nodes' gradient histograms, partitions their rows and adds each
/// finished tree to the margins, while the booster finds splits and grows the tree.
/// The caller chooses it (<see cref="GradientBooster.Train"/>'s <c>device</c>); without one the booster runs its
/// own CPU code. Implementations live outside this library (MarketIntel.Gpu), so that nothing here depends on them.
/// </summary>
/// <remarks>
/// A histogram is two doubles (g, h) per slot; feature f's slots are its missing bin, then its value bins
/// (<see cref="QuantizedMatrix.BinCount"/> slots), features one after another. The device keeps the nodes of the
/// level being grown, in order; each level's children replace them, left before right, as nodes are numbered.
/// </remarks>
public interface IHistogramDevice : IDisposable
{
    /// <summary>Uploads the matrix once, before the first tree; every later call refers to its rows.</summary>
    void Load(QuantizedMatrix matrix);

    /// <summary>
    /// Uploads the labels once, after <see cref="Load"/>, and sets every row's margin to <paramref name="baseMargin"/>;
    /// the device keeps the margins from then on and computes each tree's gradients from them
    /// (<paramref name="logistic"/>: binary:logistic, else reg:squarederror).
    /// </summary>
    void StartTraining(ReadOnlySpan<float> labels, bool logistic, double baseMargin);

    /// <summary>
    /// Starts a tree: computes every row's gradient pair from its margin, puts the first <paramref name="count"/>
    /// rows of <paramref name="sample"/> (ascending; null: every row) in the root, and writes the root's histogram
    /// into <paramref name="rootHistogram"/>.
    /// </summary>
    void StartTree(int[]? sample, int count, Span<double> rootHistogram);

    /// <summary>
    /// Splits the level's nodes: <paramref name="splits"/>[k] for its k-th node (<see cref="DeviceSplit.Leaf"/> for
    /// one that stays a leaf and leaves the level). Writes each split node's left row count to
    /// <paramref name="leftCounts"/>[k]; with <paramref name="childHistograms"/> (null at the last level), the
    /// histograms of the j-th split node's children into its entries 2j (left) and 2j + 1 (right).
    /// </summary>
    void SplitLevel(ReadOnlySpan<DeviceSplit> splits, Span<int> leftCounts, double[][]? childHistograms);

    /// <summary>Adds each row's leaf value of the finished <paramref name="tree"/> (every row, sampled or not) to its margin.</summary>
    void FinishTree(RegressionTree tree);
}

/// <summary>A node's split for a device: rows whose bin of <see cref="Feature"/> is 1..<see cref="Bin"/> go left, missing ones (bin 0) to <see cref="DefaultLeft"/>.</summary>
public readonly record struct DeviceSplit(int Feature, int Bin, bool DefaultLeft)
{
    /// <summary>A node that is not split.</summary>
    public static readonly DeviceSplit Leaf = new(-1, 0, false);

    /// <summary>Whether this is <see cref="Leaf"/>.</summary>
    public bool IsLeaf => Feature < 0;
}
