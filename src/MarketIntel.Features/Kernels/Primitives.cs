using System.Runtime.Intrinsics;

namespace MarketIntel.Features.Kernels;

/// <summary>A kernel that consumes one bar and returns the feature value for it (NaN while undefined).</summary>
internal interface IBarKernel
{
    double Next(in Bar bar);
}

/// <summary>
/// TTR's EMA: seeded with the mean of the first <c>n</c> valid inputs (each term divided by n, as TTR
/// accumulates them), then <c>x*ratio + prev*(1-ratio)</c>. NaN inputs met before the seed is complete are
/// skipped, as TTR skips leading NAs; after that NaN propagates, as in TTR.
/// </summary>
internal struct Ema
{
    private readonly int _n;
    private readonly double _ratio;
    private readonly double _keep;
    private int _seen;
    private double _value;

    public Ema(int n, bool wilder)
    {
        _n = n;
        _ratio = wilder ? 1.0 / n : 2.0 / (n + 1);
        _keep = 1 - _ratio;
    }

    public double Next(double x)
    {
        if (_seen >= _n)
        {
            _value = x * _ratio + _value * _keep;
            return _value;
        }
        if (double.IsNaN(x))
        {
            return double.NaN;
        }
        _value += x / _n;
        return ++_seen == _n ? _value : double.NaN;
    }
}

/// <summary>
/// TTR's wilderSum: seeded with the plain sum of the first n-1 valid inputs, then <c>x + prev*(n-1)/n</c>.
/// </summary>
internal struct WilderSum
{
    private readonly int _n;
    private readonly double _keep;
    private int _seen;
    private double _sum;
    private double _value;

    public WilderSum(int n)
    {
        _n = n;
        _keep = (n - 1) / (double)n;
    }

    public double Next(double x)
    {
        if (_seen >= _n)
        {
            // TTR divides by n every step; multiplying by (n-1)/n differs by an ulp and avoids a division on the
            // dependency chain.
            _value = x + _value * _keep;
            return _value;
        }
        if (double.IsNaN(x))
        {
            return double.NaN;
        }
        if (++_seen < _n)
        {
            _sum += x;
            return double.NaN;
        }
        _value = x + _sum * (_n - 1) / _n;
        return _value;
    }
}

/// <summary>
/// Sum, mean and variance over the last n values in O(1) per push and O(n) memory.
/// The running sums are kept as deviations from an anchor near the window mean, and every n pushes they are
/// rebuilt exactly from the window (amortised O(1)), so rounding error never accumulates over a long stream
/// and the variance does not suffer the cancellation of a naive sum-of-squares. A window whose values are all
/// equal is detected exactly (a run of equal values), so its variance is exactly 0 and its mean exactly the value.
/// </summary>
internal struct RollingMoments
{
    private readonly double[] _window;
    private int _count;
    private int _pos;
    private int _sinceRebuild;
    private int _equalRun;
    private double _last;
    private double _anchor;
    private double _s1;
    private double _s2;

    public RollingMoments(int n)
    {
        _window = new double[n];
        _last = double.NaN;
    }

    public readonly int Length => _window.Length;
    public readonly bool IsFull => _count == _window.Length;
    public readonly bool IsFlat => _equalRun >= _window.Length - 1;

    public void Push(double x)
    {
        var w = _window;
        if (_count == 0)
        {
            _anchor = x;
        }
        double d = 0;
        if (_count == w.Length)
        {
            d = w[_pos] - _anchor;
        }
        else
        {
            _count++;
        }
        w[_pos] = x;
        if (++_pos == w.Length)
        {
            _pos = 0;
        }
        // One add per accumulator per push keeps the loop-carried dependency short.
        double e = x - _anchor;
        _s1 += e - d;
        _s2 += e * e - d * d;
        // Branch-free: repeated prices are common and unpredictable, and a mispredicted branch costs more than this.
        _equalRun = (_equalRun + 1) * (x == _last ? 1 : 0);
        _last = x;
        if (++_sinceRebuild >= w.Length)
        {
            Rebuild();
        }
    }

    private void Rebuild()
    {
        var w = _window.AsSpan(0, _count);
        double sum = 0;
        foreach (double v in w)
        {
            sum += v;
        }
        double anchor = sum / w.Length;
        double s1 = 0, s2 = 0;
        foreach (double v in w)
        {
            double d = v - anchor;
            s1 += d;
            s2 += d * d;
        }
        _anchor = anchor;
        _s1 = s1;
        _s2 = s2;
        _sinceRebuild = 0;
    }

    /// <summary>Mean of a full window.</summary>
    public readonly double Mean => IsFlat ? _last : _anchor + _s1 / _window.Length;

    /// <summary>Variance of a full window, population (divide by n) or sample (divide by n-1).</summary>
    public readonly double Variance(bool sample)
    {
        if (IsFlat)
        {
            return 0;
        }
        int n = _window.Length;
        double v = (_s2 - _s1 * _s1 / n) / (sample ? n - 1 : n);
        return v > 0 ? v : 0;
    }

    /// <summary>Mean absolute deviation of the window around <paramref name="center"/>: O(n), see CCI.</summary>
    public readonly double MeanAbsoluteDeviation(double center)
    {
        ReadOnlySpan<double> w = _window;
        int i = 0;
        double sum = 0;
        if (Vector256.IsHardwareAccelerated && w.Length >= Vector256<double>.Count)
        {
            // Lane-wise partial sums: a different summation order from a scalar loop, harmless at 1e-9 tolerance.
            var c = Vector256.Create(center);
            var acc = Vector256<double>.Zero;
            for (; i <= w.Length - Vector256<double>.Count; i += Vector256<double>.Count)
            {
                acc += Vector256.Abs(Vector256.Create(w.Slice(i, Vector256<double>.Count)) - c);
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < w.Length; i++)
        {
            sum += Math.Abs(w[i] - center);
        }
        return sum / w.Length;
    }
}

/// <summary>
/// Sum over the last n values in O(1) per push, rebuilt exactly every n pushes so rounding error stays bounded.
/// Counts the non-zero values in the window, so a window of zeros sums to exactly 0 (TTR's running sum can leave
/// a rounding residue there; MFI's "no money flow" cases depend on the exact zero).
/// </summary>
internal struct RollingSum
{
    private readonly double[] _window;
    private int _count;
    private int _pos;
    private int _sinceRebuild;
    private int _nonZero;
    private double _sum;

    public RollingSum(int n) => _window = new double[n];

    public readonly bool IsFull => _count == _window.Length;
    public readonly double Sum => _nonZero == 0 ? 0 : _sum;

    public void Push(double x)
    {
        var w = _window;
        double old = 0;
        if (_count == w.Length)
        {
            old = w[_pos];
        }
        else
        {
            _count++;
        }
        w[_pos] = x;
        if (++_pos == w.Length)
        {
            _pos = 0;
        }
        _sum += x - old;
        _nonZero += (x != 0 ? 1 : 0) - (old != 0 ? 1 : 0);
        if (++_sinceRebuild >= w.Length)
        {
            double s = 0;
            foreach (double v in w.AsSpan(0, _count))
            {
                s += v;
            }
            _sum = s;
            _sinceRebuild = 0;
        }
    }
}

/// <summary>
/// Maximum of the last n values in amortised O(1) per push and without data-dependent branches (van Herk /
/// Gil-Werman): the ring is split into blocks of n; the window is the tail of the previous block, whose suffix
/// maxima are computed once when it completes, plus the head of the current block, whose running maximum is kept.
/// Exact: only comparisons, no arithmetic.
/// </summary>
/// <summary>
/// The highest high and the lowest low of the last n bars (the range stochastics and Williams %R divide by): two
/// rolling maxima, the low's on negated values.
/// </summary>
internal struct RollingRange(int n)
{
    private RollingMax _high = new(n);
    private RollingMax _negLow = new(n);

    /// <summary>Adds a bar; true once n bars are in, with the window's highest high and lowest low.</summary>
    public bool Push(in Bar bar, out double high, out double low)
    {
        high = _high.Push(bar.High);
        low = -_negLow.Push(-bar.Low);
        return _high.IsFull;
    }
}

internal struct RollingMax
{
    private readonly double[] _ring;
    private readonly double[] _suffix;
    private int _pos;
    private long _count;
    private double _prefix;

    public RollingMax(int n)
    {
        _ring = new double[n];
        _suffix = new double[n + 1];
        _suffix.AsSpan().Fill(double.NegativeInfinity);
        _prefix = double.NegativeInfinity;
    }

    public readonly bool IsFull => _count >= _ring.Length;

    public double Push(double x)
    {
        _ring[_pos] = x;
        _prefix = double.MaxNative(_prefix, x);
        // Window = current block [0.._pos] and previous block [_pos+1..n-1].
        double max = double.MaxNative(_prefix, _suffix[_pos + 1]);
        _count++;
        if (++_pos == _ring.Length)
        {
            CompleteBlock();
        }
        return max;
    }

    private void CompleteBlock()
    {
        var ring = _ring;
        var suffix = _suffix;
        double m = double.NegativeInfinity;
        for (int i = ring.Length - 1; i >= 0; i--)
        {
            m = double.MaxNative(m, ring[i]);
            suffix[i] = m;
        }
        _pos = 0;
        _prefix = double.NegativeInfinity;
    }
}

/// <summary>The value seen n pushes ago, O(1) with a ring of n.</summary>
internal struct Lagger
{
    private readonly double[] _ring;
    private int _pos;
    private long _count;

    public Lagger(int n) => _ring = new double[n];

    /// <summary>Pushes x and returns the value pushed n pushes before it, or NaN when there is none yet.</summary>
    public double Push(double x)
    {
        double old = _count >= _ring.Length ? _ring[_pos] : double.NaN;
        _ring[_pos] = x;
        if (++_pos == _ring.Length)
        {
            _pos = 0;
        }
        _count++;
        return old;
    }
}

/// <summary>Numerics shared by several kernels.</summary>
internal static class Num
{
    /// <summary>
    /// The correctly rounded mean of three values (R's mean() accumulates in extended precision and so rounds
    /// correctly; a plain (a+b+c)/3 can differ in the last bit, which flips MFI's up/down comparisons on ties).
    /// </summary>
    public static double Mean3(double a, double b, double c)
    {
        double s1 = a + b;
        double e1 = TwoSumError(a, b, s1);
        double s = s1 + c;
        double e2 = TwoSumError(s1, c, s);
        double lo = e1 + e2;
        double q = s / 3;
        double r = Math.FusedMultiplyAdd(-q, 3, s);
        return q + (r + lo) * (1.0 / 3);
    }

    private static double TwoSumError(double a, double b, double s)
    {
        double bb = s - a;
        return (a - (s - bb)) + (b - bb);
    }
}
