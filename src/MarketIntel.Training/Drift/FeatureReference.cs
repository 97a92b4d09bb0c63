using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MarketIntel.Training.Drift;

/// <summary>
/// The reference distribution of one series (a model input, or its prediction) as drift is measured against it:
/// quantile bin edges from the training rows, how many of those rows fell in each bin, how many were missing, and
/// the smallest and largest value seen (the outer bins' extent, for the Wasserstein distance).
/// </summary>
/// <remarks>
/// <see cref="Edges"/> holds the <c>B - 1</c> cut points between <c>B</c> value bins, strictly ascending; a value
/// <c>x</c> falls in bin <c>i</c> when <c>Edges[i-1] &lt;= x &lt; Edges[i]</c> (bin 0 below the first edge, the last
/// bin from the last edge up). Missing values (NaN) are kept apart from the value bins: the bins describe the
/// distribution of the values that are there, and the missing rate is compared on its own, so a feature's warm-up
/// rows in training do not read as drift once every live value is present.
/// </remarks>
public sealed class FeatureReference
{
    /// <summary>The most value bins a series may have (a bin index must fit a byte beside the missing mark).</summary>
    public const int MaxBins = 254;

    /// <summary>Creates a reference, checking that it describes a distribution.</summary>
    /// <exception cref="ArgumentException">The edges are not strictly ascending and finite, the counts do not match them, or a count is negative; the message names the member at fault (<c>name.edges[3]: ...</c>).</exception>
    public FeatureReference(string name, float[] edges, long[] counts, long missing, float min, float max)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(edges);
        ArgumentNullException.ThrowIfNull(counts);
        if (Problem(edges, counts, missing, min, max) is { } problem)
        {
            throw new ArgumentException($"{name}.{problem}");
        }
        Name = name;
        Edges = edges;
        Counts = counts;
        Missing = missing;
        Min = min;
        Max = max;
        Present = Sum(counts);
        PaddedEdges = new float[(edges.Length + EdgesPerVector - 1) / EdgesPerVector * EdgesPerVector];
        PaddedEdges.AsSpan().Fill(float.NaN);
        edges.CopyTo(PaddedEdges, 0);
    }

    /// <summary>
    /// What keeps the parts from describing a distribution, as <c>member: what is wrong</c> (e.g. <c>edges[3]: ...</c>), so
    /// that a caller can prefix the place the parts came from; null when nothing does.
    /// </summary>
    internal static string? Problem(float[] edges, long[] counts, long missing, float min, float max)
    {
        if (counts.Length != edges.Length + 1 || counts.Length > MaxBins)
        {
            return $"counts: {edges.Length} edges need {edges.Length + 1} counts (at most {MaxBins} bins), not {counts.Length}";
        }
        for (int i = 0; i < edges.Length; i++)
        {
            if (!float.IsFinite(edges[i]) || (i > 0 && edges[i] <= edges[i - 1]))
            {
                return $"edges[{i}]: {edges[i]} must be finite and above the edge before it";
            }
        }
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] < 0)
            {
                return $"counts[{i}]: {counts[i]} must not be negative";
            }
        }
        if (missing < 0)
        {
            return $"missing: {missing} must not be negative";
        }
        if (Sum(counts) > 0 && (!float.IsFinite(min) || !float.IsFinite(max) || min > max
            || (edges.Length > 0 && (min > edges[0] || max < edges[^1]))))
        {
            return $"min: {min} and max {max} must be finite and enclose the edges";
        }
        return null;
    }

    private static long Sum(long[] counts)
    {
        long total = 0;
        foreach (long count in counts)
        {
            total += count;
        }
        return total;
    }

    /// <summary>The series' name: a feature name, or <see cref="ReferenceProfile.PredictionName"/>.</summary>
    public string Name { get; }

    /// <summary>The cut points between value bins, strictly ascending.</summary>
    public float[] Edges { get; }

    /// <summary>Reference rows per value bin (<see cref="Bins"/> of them).</summary>
    public long[] Counts { get; }

    /// <summary>Reference rows whose value was missing.</summary>
    public long Missing { get; }

    /// <summary>The smallest value among the reference rows.</summary>
    public float Min { get; }

    /// <summary>The largest value among the reference rows.</summary>
    public float Max { get; }

    /// <summary>Reference rows with a value (the sum of <see cref="Counts"/>).</summary>
    public long Present { get; }

    /// <summary>How many value bins.</summary>
    public int Bins => Counts.Length;

    /// <summary>The share of reference rows whose value was missing, or NaN for a reference of no rows.</summary>
    public double MissingRate => Present + Missing == 0 ? double.NaN : (double)Missing / (Present + Missing);

    /// <summary>The value bin of <paramref name="value"/>, or -1 when it is missing (NaN).</summary>
    public int Bin(float value) => BinOf(PaddedEdges, value);

    /// <summary>
    /// <see cref="Edges"/> padded with NaN to whole vectors of <see cref="EdgesPerVector"/>: NaN compares false, so the
    /// padding never counts.
    /// </summary>
    internal float[] PaddedEdges { get; }

    internal const int EdgesPerVector = 8;

    /// <summary>
    /// The number of edges at or below <paramref name="value"/> (-1 for NaN), branch-free: eight edges compared at once
    /// and the matches counted, so the time does not depend on where the value falls (a binary search over 19 edges
    /// mispredicts about half its branches). Equal to the upper bound a binary search finds, since edges ascend.
    /// </summary>
    internal static int BinOf(ReadOnlySpan<float> paddedEdges, float value)
    {
        if (float.IsNaN(value))
        {
            return -1;
        }
        int count = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> v = Vector256.Create(value);
            ref float at = ref MemoryMarshal.GetReference(paddedEdges);
            for (int i = 0; i < paddedEdges.Length; i += EdgesPerVector)
            {
                count += BitOperations.PopCount(Vector256.LessThanOrEqual(Vector256.LoadUnsafe(ref at, (nuint)i), v).ExtractMostSignificantBits());
            }
            return count;
        }
        foreach (float edge in paddedEdges)
        {
            count += edge <= value ? 1 : 0;
        }
        return count;
    }

    /// <summary>
    /// Where each value bin sits on the value axis, for distances between distributions: the midpoint of its edges,
    /// the outer bins reaching to the reference's <see cref="Min"/> and <see cref="Max"/>.
    /// </summary>
    public double Center(int bin)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bin);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(bin, Bins);
        double low = bin == 0 ? Min : Edges[bin - 1];
        double high = bin == Bins - 1 ? Max : Edges[bin];
        return (low + high) / 2;
    }
}
