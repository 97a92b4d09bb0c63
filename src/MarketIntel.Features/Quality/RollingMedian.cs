namespace MarketIntel.Features.Quality;

/// <summary>
/// The median of the last n values: a ring in arrival order beside the same values sorted. A push takes the oldest
/// value out of the sorted copy and puts the new one in (binary search, then a block move of at most n values), and
/// does nothing to it when the two are equal, the usual case for bar intervals.
/// </summary>
internal sealed class RollingMedian
{
    private readonly long[] _ring;
    private readonly long[] _sorted;
    private int _count;
    private int _next;

    public RollingMedian(int length)
    {
        _ring = new long[length];
        _sorted = new long[length];
    }

    public bool IsFull => _count == _ring.Length;

    /// <summary>The median of the values held (the lower middle one for an even count); 0 when empty.</summary>
    public long Median => _count == 0 ? 0 : _sorted[(_count - 1) / 2];

    public void Push(long value)
    {
        if (_count == _ring.Length)
        {
            long oldest = _ring[_next];
            if (oldest != value)
            {
                int at = Array.BinarySearch(_sorted, 0, _count, oldest);
                Array.Copy(_sorted, at + 1, _sorted, at, _count - at - 1);
                Insert(value, _count - 1);
            }
        }
        else
        {
            Insert(value, _count);
            _count++;
        }
        _ring[_next] = value;
        _next = _next + 1 == _ring.Length ? 0 : _next + 1;
    }

    /// <summary>Inserts into the first <paramref name="held"/> sorted values.</summary>
    private void Insert(long value, int held)
    {
        int at = Array.BinarySearch(_sorted, 0, held, value);
        if (at < 0)
        {
            at = ~at;
        }
        Array.Copy(_sorted, at, _sorted, at + 1, held - at);
        _sorted[at] = value;
    }
}
