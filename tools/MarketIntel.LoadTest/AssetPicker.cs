namespace MarketIntel.LoadTest;

/// <summary>
/// Picks the asset of the next request: uniform over <c>0 .. N-1</c>, or Zipf with exponent s, where asset k
/// (0-based) is requested with probability proportional to 1 / (k + 1)^s — a few hot symbols and a long tail.
/// Thread-safe: callers bring their own <see cref="Random"/>.
/// </summary>
public sealed class AssetPicker
{
    private readonly int _count;
    private readonly double[]? _cumulative;

    public AssetPicker(int count, double? zipf)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _count = count;
        if (zipf is { } s)
        {
            _cumulative = new double[count];
            double sum = 0;
            for (int k = 0; k < count; k++)
            {
                sum += Math.Pow(k + 1, -s);
                _cumulative[k] = sum;
            }
            for (int k = 0; k < count; k++)
            {
                _cumulative[k] /= sum;
            }
            _cumulative[count - 1] = 1.0;
        }
    }

    public int Count => _count;

    public int Next(Random random)
    {
        if (_cumulative is null)
        {
            return random.Next(_count);
        }
        double u = random.NextDouble();
        int i = Array.BinarySearch(_cumulative, u);
        // BinarySearch gives the complement of the first element above u when u is not present.
        return i >= 0 ? i : Math.Min(~i, _count - 1);
    }

    /// <summary>The probability of asset <paramref name="index"/> (for tests and the report).</summary>
    public double Probability(int index) =>
        _cumulative is null ? 1.0 / _count : _cumulative[index] - (index == 0 ? 0 : _cumulative[index - 1]);
}
