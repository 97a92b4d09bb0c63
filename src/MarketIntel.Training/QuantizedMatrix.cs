namespace MarketIntel.Training;

/// <summary>
/// A feature matrix as histogram bins. Bin 0 holds missing values (NaN); bins 1..n hold the values between
/// consecutive cut points: a value v is in bin 1 + (the number of cuts &lt;= v). A split after bin j sends a row left
/// exactly when v &lt; cut[j-1], which is XGBoost's rule for its split conditions.
/// </summary>
/// <remarks>
/// Bins are stored row by row (a row's bins are contiguous, so a histogram reads them in one cache line) as one
/// byte each when <c>max_bin</c> is at most 256, else as two. A stored value is <c>bin - BinBase(f)</c>: a feature
/// with no missing value has no bin 0 to store, so its base is 1 and 256 value bins still fit a byte. A feature with
/// missing values and one byte a bin gets at most 255 value bins.
/// </remarks>
public sealed class QuantizedMatrix
{
    private readonly byte[]? _bytes;
    private readonly ushort[]? _shorts;
    private readonly int[] _base;

    private QuantizedMatrix(int rows, float[][] cuts, int[] binBase, byte[]? bytes, ushort[]? shorts)
    {
        Rows = rows;
        Cuts = cuts;
        _base = binBase;
        _bytes = bytes;
        _shorts = shorts;
    }

    public int Rows { get; }

    public int Features => Cuts.Length;

    /// <summary>Per feature, the ascending cut points; the feature has <c>Cuts[f].Length + 1</c> value bins.</summary>
    public float[][] Cuts { get; }

    public int BinCount(int feature) => Cuts[feature].Length + 2;   // missing, then value bins

    /// <summary>What is added to a stored value to give the bin: 1 for a feature with no missing value, else 0.</summary>
    public int BinBase(int feature) => _base[feature];

    /// <summary>The bins one byte each, row by row; null when <c>max_bin</c> is over 256 (see <see cref="Shorts"/>).</summary>
    internal byte[]? Bytes => _bytes;

    /// <summary>The bins two bytes each, row by row, when they do not fit a byte.</summary>
    internal ushort[]? Shorts => _shorts;

    /// <summary>The bin of <paramref name="row"/>'s <paramref name="feature"/>: 0 for missing, else 1 + its value bin.</summary>
    public int Bin(int row, int feature)
    {
        int at = row * Features + feature;
        return (_bytes is not null ? _bytes[at] : _shorts![at]) + _base[feature];
    }

    /// <summary>
    /// Cuts each feature of a row-major matrix (<paramref name="features"/> values a row) into at most
    /// <paramref name="maxBin"/> value bins (255 for a feature with missing values when <paramref name="maxBin"/>
    /// is 256): every distinct value its own bin when there are few enough, else bins holding about equal numbers
    /// of rows.
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
        bool narrow = maxBin <= 256;
        var cuts = new float[features][];
        var binBase = new int[features];
        var columnBins = new ushort[features][];
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : -1 };
        Parallel.For(0, features, options, () => (new ulong[rows], new ulong[rows]), (f, _, buffers) =>
        {
            // Each present value's sort key in the high half and its row in the low half: once sorted, the rows
            // come in value order and each one's bin follows from a walk along the cuts, with no search.
            float[] column = columns[f];
            ulong[] keys = buffers.Item1;
            int present = 0;
            for (int r = 0; r < rows; r++)
            {
                float v = column[r];
                if (!float.IsNaN(v))
                {
                    keys[present++] = (ulong)SortKey(v) << 32 | (uint)r;
                }
            }
            bool missing = present < rows;
            Span<ulong> sorted = RadixSort(keys.AsSpan(0, present), buffers.Item2.AsSpan(0, present));
            // A byte holds the missing bin and 255 value bins, or 256 value bins when nothing is missing.
            float[] c = CutPoints(sorted, narrow && missing ? Math.Min(maxBin, 255) : maxBin);
            cuts[f] = c;
            binBase[f] = missing ? 0 : 1;
            var bins = new ushort[rows];   // missing rows stay 0, which only a feature with base 0 has
            int below = 0;                 // the number of cuts <= the current value
            foreach (ulong k in sorted)
            {
                float v = FromKey((uint)(k >> 32));
                while (below < c.Length && c[below] <= v)
                {
                    below++;
                }
                bins[(int)(uint)k] = (ushort)(1 + below - binBase[f]);
            }
            columnBins[f] = bins;
            return buffers;
        }, _ => { });

        // Row by row, threads taking blocks of rows so that no two write the same cache line.
        int total = rows * features;
        byte[]? bytes = narrow ? new byte[total] : null;
        ushort[]? shorts = narrow ? null : new ushort[total];
        int blocks = Math.Max(1, rows / 16384);
        Parallel.For(0, blocks, options, b =>
        {
            int from = (int)((long)rows * b / blocks), to = (int)((long)rows * (b + 1) / blocks);
            for (int f = 0; f < features; f++)
            {
                ushort[] column = columnBins[f];
                if (bytes is not null)
                {
                    for (int r = from; r < to; r++)
                    {
                        bytes[r * features + f] = (byte)column[r];
                    }
                }
                else
                {
                    for (int r = from; r < to; r++)
                    {
                        shorts![r * features + f] = column[r];
                    }
                }
            }
        });
        return new QuantizedMatrix(rows, cuts, binBase, bytes, shorts);
    }

    /// <summary>An unsigned key that orders as the float does (NaN excluded): negative values with all bits flipped.</summary>
    private static uint SortKey(float v)
    {
        uint bits = BitConverter.SingleToUInt32Bits(v);
        return (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
    }

    private static float FromKey(uint key) =>
        BitConverter.UInt32BitsToSingle((key & 0x8000_0000u) != 0 ? key & 0x7FFF_FFFFu : ~key);

    /// <summary>
    /// Least-significant-digit radix sort by the high 32 bits, in three 11-bit passes: several times faster than
    /// a comparison sort. Returns whichever buffer holds the result.
    /// </summary>
    private static Span<ulong> RadixSort(Span<ulong> keys, Span<ulong> scratch)
    {
        const int Bits = 11, Buckets = 1 << Bits;
        Span<int> counts = stackalloc int[3 * Buckets];
        counts.Clear();
        foreach (ulong k in keys)
        {
            counts[(int)((k >> 32) & (Buckets - 1))]++;
            counts[Buckets + (int)((k >> (32 + Bits)) & (Buckets - 1))]++;
            counts[2 * Buckets + (int)(k >> (32 + 2 * Bits))]++;
        }
        Span<ulong> from = keys, to = scratch;
        for (int pass = 0; pass < 3; pass++)
        {
            Span<int> count = counts.Slice(pass * Buckets, Buckets);
            if (count.IndexOf(keys.Length) >= 0)
            {
                continue;   // every key has the same digit here: the pass would not move anything
            }
            int sum = 0;
            for (int d = 0; d < Buckets; d++)
            {
                int c = count[d];
                count[d] = sum;
                sum += c;
            }
            int shift = 32 + pass * Bits;
            foreach (ulong k in from)
            {
                to[count[(int)((k >> shift) & (Buckets - 1))]++] = k;
            }
            Span<ulong> t = from;
            from = to;
            to = t;
        }
        return from;
    }

    /// <summary>Cut points: the distinct values after the first, or every (n/maxBin)-th value when there are more.</summary>
    private static float[] CutPoints(ReadOnlySpan<ulong> sortedKeys, int maxBin)
    {
        // Keys of distinct floats differ, except +0 and -0, which are equal as floats and one value here.
        int n = sortedKeys.Length;
        var distinct = new List<float>(Math.Min(n, maxBin + 1));
        for (int i = 0; i < n && distinct.Count <= maxBin; i++)
        {
            float v = FromKey((uint)(sortedKeys[i] >> 32));
            if (distinct.Count == 0 || v != distinct[^1])
            {
                distinct.Add(v);
            }
        }
        if (distinct.Count <= maxBin)
        {
            return distinct.Skip(1).ToArray();
        }
        float first = FromKey((uint)(sortedKeys[0] >> 32));
        var cuts = new List<float>(maxBin);
        for (int k = 1; k < maxBin; k++)
        {
            float v = FromKey((uint)(sortedKeys[(int)((long)k * n / maxBin)] >> 32));
            if (v > first && (cuts.Count == 0 || v > cuts[^1]))
            {
                cuts.Add(v);
            }
        }
        return cuts.ToArray();
    }
}
