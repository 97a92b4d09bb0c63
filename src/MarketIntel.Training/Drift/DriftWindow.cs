namespace MarketIntel.Training.Drift;

/// <summary>
/// Live bin counts of several series over their last <see cref="Length"/> values (a sliding window), updated in
/// O(1) per series per value with no allocation. It keeps each value's bin (one byte) in a ring so that the value
/// leaving the window can be taken out of its bin: memory is <c>Length</c> bytes per series plus the counts.
/// </summary>
/// <remarks>
/// A sliding window rather than exponentially decayed counts: the counts are whole numbers of bars, so the
/// chi-square test's sample size is the window's and its false-alarm rate holds at any window length, and a batch
/// recount of the last <see cref="Length"/> values gives exactly the same counts.
/// </remarks>
public sealed class DriftWindow
{
    private const byte MissingMark = byte.MaxValue;

    private readonly FeatureReference[] _series;
    private readonly int[] _offsets;   // where series s's counts start in _counts; its missing count follows its bins
    private readonly int[] _counts;
    private readonly byte[] _ring;     // Length rows of one bin per series
    private int _next;                 // the ring row the next value goes to
    private int _filled;               // values in the window (up to Length)

    /// <summary>A window of <paramref name="length"/> values over the bins of <paramref name="series"/>.</summary>
    public DriftWindow(IReadOnlyList<FeatureReference> series, int length)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        _series = [.. series];
        _offsets = new int[_series.Length + 1];
        for (int s = 0; s < _series.Length; s++)
        {
            _offsets[s + 1] = _offsets[s] + _series[s].Bins + 1;
        }
        _counts = new int[_offsets[^1]];

        _ring = new byte[checked(length * _series.Length)];
        Length = length;
    }

    /// <summary>The most values the window holds.</summary>
    public int Length { get; }

    /// <summary>How many values it holds now (up to <see cref="Length"/>).</summary>
    public int Count => _filled;

    /// <summary>How many series it counts.</summary>
    public int SeriesCount => _series.Length;

    /// <summary>The reference of series <paramref name="series"/>.</summary>
    public FeatureReference Reference(int series) => _series[series];

    /// <summary>Adds one value per series (NaN = missing), dropping the oldest once the window is full.</summary>
    public void Add(ReadOnlySpan<float> values)
    {
        if (values.Length != _series.Length)
        {
            throw new ArgumentException($"drift window: {values.Length} values for {_series.Length} series");
        }
        Span<byte> row = _ring.AsSpan(_next * _series.Length, _series.Length);
        bool full = _filled == Length;
        for (int s = 0; s < row.Length; s++)
        {
            int offset = _offsets[s];
            if (full)
            {
                byte old = row[s];
                _counts[old == MissingMark ? _offsets[s + 1] - 1 : offset + old]--;
            }
            int bin = _series[s].Bin(values[s]);
            row[s] = bin < 0 ? MissingMark : (byte)bin;
            _counts[bin < 0 ? _offsets[s + 1] - 1 : offset + bin]++;
        }
        _next = _next + 1 == Length ? 0 : _next + 1;
        if (!full)
        {
            _filled++;
        }
    }

    /// <summary>The window's counts of series <paramref name="series"/> per value bin.</summary>
    public ReadOnlySpan<int> Counts(int series) => _counts.AsSpan(_offsets[series], _series[series].Bins);

    /// <summary>How many of the window's values of series <paramref name="series"/> are missing.</summary>
    public int Missing(int series) => _counts[_offsets[series + 1] - 1];

    /// <summary>Empties the window.</summary>
    public void Clear()
    {
        Array.Clear(_counts);
        _next = 0;
        _filled = 0;
    }
}
