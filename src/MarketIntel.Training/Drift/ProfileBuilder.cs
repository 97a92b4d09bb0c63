namespace MarketIntel.Training.Drift;

/// <summary>Builds references from reference rows: quantile bin edges, then each row counted into its bin.</summary>
public static class ProfileBuilder
{
    /// <summary>The number of value bins a reference aims at unless told otherwise.</summary>
    public const int DefaultBins = 20;

    /// <summary>
    /// The reference of one series from its reference values (NaN = missing): up to <paramref name="bins"/> value bins
    /// cut at the values' quantiles <c>1/bins, 2/bins, ...</c>. Repeated values share a cut, so a feature with few
    /// distinct values gets fewer bins, and every bin holds at least one reference value.
    /// </summary>
    public static FeatureReference Reference(string name, ReadOnlySpan<float> values, int bins = DefaultBins)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bins, FeatureReference.MaxBins);
        var present = new float[values.Length];
        int n = 0;
        foreach (float value in values)
        {
            if (float.IsInfinity(value))
            {
                throw new ArgumentException($"{name}: reference values must be finite or missing (NaN), not {value}");
            }
            if (!float.IsNaN(value))
            {
                present[n++] = value;
            }
        }
        long missing = values.Length - n;
        if (n == 0)
        {
            return new FeatureReference(name, [], [0], missing, float.NaN, float.NaN);
        }
        Span<float> sorted = present.AsSpan(0, n);
        sorted.Sort();
        var edges = new List<float>(bins - 1);
        for (int b = 1; b < bins; b++)
        {
            // The value at quantile b/bins (the lower of the two around it): a cut at a value present in the data,
            // so no bin above the first is empty. The smallest value is never a cut (the first bin would be empty).
            float cut = sorted[(int)((long)b * n / bins)];
            if (cut > sorted[0] && (edges.Count == 0 || cut > edges[^1]))
            {
                edges.Add(cut);
            }
        }
        var reference = new FeatureReference(name, [.. edges], new long[edges.Count + 1], missing, sorted[0], sorted[^1]);
        foreach (float value in sorted)
        {
            reference.Counts[reference.Bin(value)]++;
        }
        return new FeatureReference(name, reference.Edges, reference.Counts, missing, sorted[0], sorted[^1]);
    }

    /// <summary>
    /// A profile from reference rows given by column (<paramref name="columns"/>[f] holds feature f's values for every
    /// row, in the order of <paramref name="names"/>), and optionally the model's predictions on the same rows.
    /// </summary>
    public static ReferenceProfile Build(IReadOnlyList<string> names, IReadOnlyList<float[]> columns, float[]? predictions, string source, int bins = DefaultBins)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(columns);
        if (names.Count != columns.Count)
        {
            throw new ArgumentException($"profile: {names.Count} names for {columns.Count} columns");
        }
        long rows = columns.Count > 0 ? columns[0].Length : predictions?.Length ?? 0;
        for (int f = 0; f < columns.Count; f++)
        {
            if (columns[f].Length != rows)
            {
                throw new ArgumentException($"profile: column '{names[f]}' has {columns[f].Length} rows, not {rows}");
            }
        }
        if (predictions is not null && predictions.Length != rows)
        {
            throw new ArgumentException($"profile: {predictions.Length} predictions for {rows} rows");
        }
        var features = new FeatureReference[names.Count];
        for (int f = 0; f < features.Length; f++)
        {
            features[f] = Reference(names[f], columns[f], bins);
        }
        FeatureReference? prediction = predictions is null ? null : Reference(ReferenceProfile.PredictionName, predictions, bins);
        return new ReferenceProfile(features, prediction, rows, source);
    }
}
