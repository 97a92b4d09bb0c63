using MarketIntel.Features;

namespace MarketIntel.Training;

/// <summary>
/// Training rows made from a bar series: the features of a spec at each bar t (the batch form, equal to what an
/// asset grain computes online from bars up to t) and a label from the close <c>k</c> bars later. A row whose
/// features are not all defined yet (warm-up) or whose label would need bars past the end is dropped, never filled:
/// nothing in a row depends on a bar after t except its label, and the label on bar t + k alone.
/// </summary>
public sealed class Dataset
{
    private Dataset(string[] featureNames, float[] features, float[] labels, int[] barIndex, string[] timestamps, int horizon, LabelKind kind)
    {
        FeatureNames = featureNames;
        Features = features;
        Labels = labels;
        BarIndex = barIndex;
        Timestamps = timestamps;
        Horizon = horizon;
        Kind = kind;
    }

    public IReadOnlyList<string> FeatureNames { get; }

    /// <summary>Row-major, <see cref="FeatureCount"/> values a row, as the inference engine takes them.</summary>
    public float[] Features { get; }

    public float[] Labels { get; }

    /// <summary>Each row's bar (index into the series it was made from).</summary>
    public int[] BarIndex { get; }

    /// <summary>Each row's bar timestamp, as in the series.</summary>
    public string[] Timestamps { get; }

    public int Horizon { get; }

    public LabelKind Kind { get; }

    public int Rows => Labels.Length;

    public int FeatureCount => FeatureNames.Count;

    /// <summary>Row <paramref name="row"/>'s features.</summary>
    public ReadOnlySpan<float> Row(int row) => Features.AsSpan(row * FeatureCount, FeatureCount);

    /// <summary>Builds the rows of <paramref name="bars"/> for <paramref name="spec"/> with labels <paramref name="horizon"/> bars ahead.</summary>
    /// <exception cref="ArgumentException">The horizon is not at least 1, or leaves no bar to label.</exception>
    public static Dataset Build(BarSeries bars, FeatureSet spec, int horizon, LabelKind kind)
    {
        ArgumentNullException.ThrowIfNull(bars);
        ArgumentNullException.ThrowIfNull(spec);
        if (horizon < 1)
        {
            throw new ArgumentException($"horizon {horizon}: the label looks at least 1 bar ahead", nameof(horizon));
        }
        if (horizon >= bars.Count)
        {
            throw new ArgumentException($"horizon {horizon}: the series has {bars.Count} bars, so no bar has a close {horizon} bars later", nameof(horizon));
        }
        double[][] columns = spec.Compute(bars);
        var label = new LabelDefinition(kind, horizon);
        int last = bars.Count - horizon;   // bars 0 .. last-1 have a close `horizon` bars later
        var keep = new List<int>(last);
        for (int t = 0; t < last; t++)
        {
            bool defined = true;
            foreach (double[] column in columns)
            {
                if (!double.IsFinite(column[t]))
                {
                    defined = false;
                    break;
                }
            }
            if (defined)
            {
                keep.Add(t);
            }
        }

        int n = keep.Count;
        int width = columns.Length;
        var features = new float[n * width];
        var labels = new float[n];
        var barIndex = keep.ToArray();
        var timestamps = new string[n];
        for (int r = 0; r < n; r++)
        {
            int t = barIndex[r];
            for (int f = 0; f < width; f++)
            {
                features[r * width + f] = (float)columns[f][t];
            }
            labels[r] = (float)label.At(bars.Close, t);
            timestamps[r] = bars.Timestamps[t];
        }
        return new Dataset(spec.Names.ToArray(), features, labels, barIndex, timestamps, horizon, kind);
    }
}
