namespace MarketIntel.Training;

/// <summary>
/// A feature matrix as histogram bins, feature by feature. Bin 0 holds missing values (NaN); bins 1..n hold the
/// values between consecutive cut points: a value v is in bin 1 + (the number of cuts &lt;= v). A split after bin j
/// sends a row left exactly when v &lt; cut[j-1], which is XGBoost's rule for its split conditions.
/// </summary>
public sealed class QuantizedMatrix
{
    private QuantizedMatrix(int rows, float[][] cuts, ushort[][] bins)
    {
        Rows = rows;
        Cuts = cuts;
        Bins = bins;
        int features = cuts.Length;
        RowBins = new ushort[rows * features];
        for (int f = 0; f < features; f++)
        {
            ushort[] column = bins[f];
            for (int r = 0; r < rows; r++)
            {
                RowBins[r * features + f] = column[r];
            }
        }
    }

    /// <summary>The same bins row by row (<see cref="Features"/> a row): histograms read a row's bins in one go.</summary>
    public ushort[] RowBins { get; }

    public int Rows { get; }

    public int Features => Cuts.Length;

    /// <summary>Per feature, the ascending cut points; the feature has <c>Cuts[f].Length + 1</c> value bins.</summary>
    public float[][] Cuts { get; }

    /// <summary>Per feature, each row's bin.</summary>
    public ushort[][] Bins { get; }

    public int BinCount(int feature) => Cuts[feature].Length + 2;   // missing, then value bins

    /// <summary>
    /// Cuts each feature of a row-major matrix (<paramref name="features"/> values a row) into at most
    /// <paramref name="maxBin"/> value bins: every distinct value its own bin when there are few enough, else bins
    /// holding about equal numbers of rows.
    /// </summary>
    public static QuantizedMatrix Build(ReadOnlySpan<float> matrix, int features, int maxBin, int threads)
    {
        if (features < 1 || matrix.Length % features != 0)
        {
            throw new ArgumentException($"a matrix of {matrix.Length} values does not hold whole rows of {features} features", nameof(matrix));
        }
        int rows = matrix.Length / features;
        var columns = new float[features][];
        for (int f = 0; f < features; f++)
        {
            columns[f] = new float[rows];
        }
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = matrix.Slice(r * features, features);
            for (int f = 0; f < features; f++)
            {
                columns[f][r] = row[f];
            }
        }
        var cuts = new float[features][];
        var bins = new ushort[features][];
        Parallel.For(0, features, new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : -1 }, f =>
        {
            float[] column = columns[f];
            float[] sorted = column.Where(v => !float.IsNaN(v)).ToArray();
            Array.Sort(sorted);
            cuts[f] = CutPoints(sorted, maxBin);
            var b = new ushort[rows];
            float[] c = cuts[f];
            for (int r = 0; r < rows; r++)
            {
                float v = column[r];
                b[r] = float.IsNaN(v) ? (ushort)0 : (ushort)(1 + UpperBound(c, v));
            }
            bins[f] = b;
        });
        return new QuantizedMatrix(rows, cuts, bins);
    }

    /// <summary>Cut points: the distinct values after the first, or every (n/maxBin)-th value when there are more.</summary>
    private static float[] CutPoints(float[] sorted, int maxBin)
    {
        var distinct = new List<float>();
        for (int i = 0; i < sorted.Length; i++)
        {
            if (i == 0 || sorted[i] != sorted[i - 1])
            {
                distinct.Add(sorted[i]);
            }
        }
        if (distinct.Count <= maxBin)
        {
            return distinct.Skip(1).ToArray();
        }
        var cuts = new List<float>(maxBin);
        for (int k = 1; k < maxBin; k++)
        {
            float v = sorted[(int)((long)k * sorted.Length / maxBin)];
            if (v > sorted[0] && (cuts.Count == 0 || v > cuts[^1]))
            {
                cuts.Add(v);
            }
        }
        return cuts.ToArray();
    }

    /// <summary>The number of cuts less than or equal to <paramref name="v"/>.</summary>
    private static int UpperBound(float[] cuts, float v)
    {
        int lo = 0, hi = cuts.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (cuts[mid] <= v)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }
}
