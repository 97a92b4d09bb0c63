namespace MarketIntel.Features.Kernels;

// Each kernel is one indicator's single definition: the streaming form calls Next once per bar, and the batch
// form runs the very same struct over a span of bars. Formulas follow R's TTR as called by
// tests/fixtures/ttr_reference.R; comments note where a degenerate window is given a defined value.

internal struct SmaKernel(int n) : IBarKernel
{
    private RollingMoments _m = new(n);

    public double Next(in Bar bar)
    {
        _m.Push(bar.Close);
        return _m.IsFull ? _m.Mean : double.NaN;
    }
}

internal struct EmaKernel(int n) : IBarKernel
{
    private Ema _ema = new(n, wilder: false);

    public double Next(in Bar bar) => _ema.Next(bar.Close);
}

/// <summary>Linearly weighted MA, weights 1..n oldest to newest, O(1) per bar via a weighted and a plain running sum.</summary>
internal struct WmaKernel : IBarKernel
{
    private readonly double[] _window;
    private readonly double _weightSum;
    private int _count;
    private int _pos;
    private int _sinceRebuild;
    private double _weighted;
    private double _plain;

    public WmaKernel(int n)
    {
        _window = new double[n];
        _weightSum = n * (n + 1) / 2.0;
    }

    public double Next(in Bar bar)
    {
        double x = bar.Close;
        var w = _window;
        int n = w.Length;
        if (_count < n)
        {
            _count++;
            _weighted += _count * x;
            _plain += x;
        }
        else
        {
            _weighted += n * x - _plain;
            _plain += x - w[_pos];
        }
        w[_pos] = x;
        if (++_pos == n)
        {
            _pos = 0;
        }
        if (_count < n)
        {
            return double.NaN;
        }
        if (++_sinceRebuild >= n)
        {
            Rebuild();
        }
        return _weighted / _weightSum;
    }

    private void Rebuild()
    {
        var w = _window;
        double weighted = 0, plain = 0;
        for (int j = 0, i = _pos; j < w.Length; j++)
        {
            double v = w[i];
            weighted += (j + 1) * v;
            plain += v;
            if (++i == w.Length)
            {
                i = 0;
            }
        }
        _weighted = weighted;
        _plain = plain;
        _sinceRebuild = 0;
    }
}

internal struct RsiKernel(int n) : IBarKernel
{
    private Ema _up = new(n, wilder: true);
    private Ema _down = new(n, wilder: true);
    private double _prev = double.NaN;

    public double Next(in Bar bar)
    {
        double diff = bar.Close - _prev;
        bool first = double.IsNaN(_prev);
        _prev = bar.Close;
        if (first)
        {
            return double.NaN;
        }
        // Branch-free split of the move into its up and down parts.
        double up = double.MaxNative(diff, 0);
        double down = double.MaxNative(-diff, 0);
        double mu = _up.Next(up);
        double md = _down.Next(down);
        // Flat since the start: 0/0 stays undefined (empty), as in TTR.
        return 100 * mu / (mu + md);
    }
}

internal struct AtrKernel(int n) : IBarKernel
{
    private Ema _ema = new(n, wilder: true);
    private double _prevClose = double.NaN;

    public double Next(in Bar bar)
    {
        double tr = TrueRange(bar, _prevClose);
        _prevClose = bar.Close;
        return _ema.Next(tr);
    }

    /// <summary>max(high, previous close) - min(low, previous close); NaN on the first bar, as TTR.</summary>
    public static double TrueRange(in Bar bar, double prevClose) =>
        double.IsNaN(prevClose) ? double.NaN : double.MaxNative(bar.High, prevClose) - double.MinNative(bar.Low, prevClose);
}

internal struct MacdKernel(int fast, int slow, int signal, bool emitSignal) : IBarKernel
{
    private Ema _fast = new(fast, wilder: false);
    private Ema _slow = new(slow, wilder: false);
    private Ema _signal = new(signal, wilder: false);

    public double Next(in Bar bar)
    {
        double macd = _fast.Next(bar.Close) - _slow.Next(bar.Close);
        double sig = _signal.Next(macd);
        return emitSignal ? sig : macd;
    }
}

/// <summary>Bollinger %B (emitWidth false) or width (up-dn)/mavg, population SD as TTR's BBands.</summary>
internal struct BollingerKernel(int n, double k, bool emitWidth) : IBarKernel
{
    private RollingMoments _m = new(n);

    public double Next(in Bar bar)
    {
        _m.Push(bar.Close);
        if (!_m.IsFull)
        {
            return double.NaN;
        }
        double mavg = _m.Mean;
        double sd = Math.Sqrt(_m.Variance(sample: false));
        double up = mavg + k * sd;
        double dn = mavg - k * sd;
        if (emitWidth)
        {
            return (up - dn) / mavg;
        }
        // A flat window has no band: %B is 0/0 there, left empty.
        return sd == 0 ? double.NaN : (bar.Close - dn) / (up - dn);
    }
}

/// <summary>log(close_t) - log(close_{t-n}): roc_N (TTR ROC continuous) and logret_N.</summary>
internal struct LogReturnKernel(int n) : IBarKernel
{
    private Lagger _lag = new(n);

    public double Next(in Bar bar)
    {
        double lc = Math.Log(bar.Close);
        return lc - _lag.Push(lc);
    }
}

/// <summary>Stochastic fast %K (emitD false) or fast %D = SMA(fast %K, d).</summary>
internal struct StochKernel(int n, int d, bool emitD) : IBarKernel
{
    private RollingRange _range = new(n);
    private RollingMoments _fastD = new(d);

    public double Next(in Bar bar)
    {
        if (!_range.Push(bar, out double hmax, out double lmin))
        {
            return double.NaN;
        }
        double den = hmax - lmin;
        // A flat window: TTR's 0/0 leaves a NaN that makes its own SMA stop with an error; we use 0.5, the
        // value TTR gives %K on an infinite ratio and Williams %R on a flat window.
        double fastK = den == 0 ? 0.5 : (bar.Close - lmin) / den;
        if (!emitD)
        {
            return fastK;
        }
        _fastD.Push(fastK);
        return _fastD.IsFull ? _fastD.Mean : double.NaN;
    }
}

/// <summary>On-balance volume: cumulative signed volume, compensated so the sum stays exact over long streams.</summary>
internal struct ObvKernel : IBarKernel
{
    // R's sqrt(.Machine$double.eps): TTR treats smaller log-price changes as no change.
    private const double Epsilon = 1.4901161193847656e-08;
    private double _prevClose;
    private double _sum;
    private double _compensation;

    public double Next(in Bar bar)
    {
        double c = bar.Close;
        double step;
        if (_prevClose == 0)
        {
            step = bar.Volume;
        }
        else
        {
            // The sign of log(c) - log(prev) is the sign of c - prev; the logs are needed only near TTR's threshold.
            double change = c / _prevClose - 1;
            if (Math.Abs(change) < 4 * Epsilon)
            {
                change = Math.Log(c) - Math.Log(_prevClose);
            }
            step = Math.Abs(change) < Epsilon ? 0 : change > 0 ? bar.Volume : -bar.Volume;
        }
        _prevClose = c;
        // Knuth's two-sum: branch-free error-free addition.
        double t = _sum + step;
        double back = t - _sum;
        _compensation += (_sum - (t - back)) + (step - back);
        _sum = t;
        return _sum + _compensation;
    }
}

/// <summary>Sample standard deviation of the last n one-bar log returns.</summary>
internal struct LogReturnSdKernel(int n) : IBarKernel
{
    private RollingMoments _m = new(n);
    private double _prevLog = double.NaN;

    public double Next(in Bar bar)
    {
        double lc = Math.Log(bar.Close);
        double r = lc - _prevLog;
        _prevLog = lc;
        if (double.IsNaN(r))
        {
            return double.NaN;
        }
        _m.Push(r);
        return _m.IsFull ? Math.Sqrt(_m.Variance(sample: true)) : double.NaN;
    }
}

/// <summary>
/// Commodity channel index on the typical price (H+L+C)/3 with TTR's constant 0.015. Its mean absolute deviation
/// is taken around the current window mean, which has no running form, so this kernel costs O(n) per bar.
/// </summary>
internal struct CciKernel(int n) : IBarKernel
{
    private RollingMoments _m = new(n);

    public double Next(in Bar bar)
    {
        double tp = Num.Mean3(bar.High, bar.Low, bar.Close);
        _m.Push(tp);
        if (!_m.IsFull)
        {
            return double.NaN;
        }
        double mavg = _m.Mean;
        double meanDev = _m.MeanAbsoluteDeviation(mavg);
        // A flat window gives 0/0: empty.
        return (tp - mavg) / (0.015 * meanDev);
    }
}

/// <summary>Wilder's ADX, as TTR: Wilder sums of true range and directional movement, then a Wilder EMA of DX.</summary>
internal struct AdxKernel(int n) : IBarKernel
{
    private WilderSum _tr = new(n);
    private WilderSum _plus = new(n);
    private WilderSum _minus = new(n);
    private Ema _adx = new(n, wilder: true);
    private double _prevHigh = double.NaN;
    private double _prevLow = double.NaN;
    private double _prevClose = double.NaN;

    public double Next(in Bar bar)
    {
        double dh = bar.High - _prevHigh;
        double dl = -(bar.Low - _prevLow);
        double tr = AtrKernel.TrueRange(bar, _prevClose);
        _prevHigh = bar.High;
        _prevLow = bar.Low;
        _prevClose = bar.Close;
        // TTR: 0 when dh == dl or both are negative, else the larger move. With dh > dl, "both negative" is
        // dh < 0, so this is the larger move when it is positive. NaN on the first bar (no previous bar).
        double plus = dh > dl ? double.MaxNative(dh, 0) : dh * 0;
        double minus = dl > dh ? double.MaxNative(dl, 0) : dl * 0;
        double scale = 100 / _tr.Next(tr);
        double diPlus = _plus.Next(plus) * scale;
        double diMinus = _minus.Next(minus) * scale;
        double dx = 100 * (Math.Abs(diPlus - diMinus) / (diPlus + diMinus));
        return _adx.Next(dx);
    }
}

internal struct WprKernel(int n) : IBarKernel
{
    private RollingRange _range = new(n);

    public double Next(in Bar bar)
    {
        if (!_range.Push(bar, out double hmax, out double lmin))
        {
            return double.NaN;
        }
        double den = hmax - lmin;
        return den == 0 ? 0.5 : (hmax - bar.Close) / den;
    }
}

/// <summary>Money flow index on the typical price; no negative flow gives 100 and no flow at all 50, as TTR.</summary>
internal struct MfiKernel(int n) : IBarKernel
{
    private RollingSum _positive = new(n);
    private RollingSum _negative = new(n);
    private double _prevTypical = double.NaN;

    public double Next(in Bar bar)
    {
        double tp = Num.Mean3(bar.High, bar.Low, bar.Close);
        double prev = _prevTypical;
        _prevTypical = tp;
        if (double.IsNaN(prev))
        {
            return double.NaN;
        }
        double flow = tp * bar.Volume;
        // Branch-free: whether the typical price rose or fell is as unpredictable as the market.
        _positive.Push(flow * (tp > prev ? 1 : 0));
        _negative.Push(flow * (tp < prev ? 1 : 0));
        if (!_positive.IsFull)
        {
            return double.NaN;
        }
        double num = _positive.Sum;
        double den = _negative.Sum;
        if (den == 0)
        {
            return num == 0 ? 50 : 100;
        }
        return 100 - 100 / (1 + num / den);
    }
}

/// <summary>Volume-weighted average close over n bars; a window with no volume is 0/0, empty.</summary>
internal struct VwapKernel(int n) : IBarKernel
{
    private RollingSum _priceVolume = new(n);
    private RollingSum _volume = new(n);

    public double Next(in Bar bar)
    {
        _priceVolume.Push(bar.Close * bar.Volume);
        _volume.Push(bar.Volume);
        return _volume.IsFull ? _priceVolume.Sum / _volume.Sum : double.NaN;
    }
}

/// <summary>(close - SMA) / sample SD over n bars; a flat window is 0/0, empty.</summary>
internal struct ZScoreKernel(int n) : IBarKernel
{
    private RollingMoments _m = new(n);

    public double Next(in Bar bar)
    {
        _m.Push(bar.Close);
        if (!_m.IsFull)
        {
            return double.NaN;
        }
        double sd = Math.Sqrt(_m.Variance(sample: true));
        return sd == 0 ? double.NaN : (bar.Close - _m.Mean) / sd;
    }
}

/// <summary>A raw bar field: open, high, low, close or volume.</summary>
internal struct FieldKernel(BarField field) : IBarKernel
{
    public readonly double Next(in Bar bar) => field switch
    {
        BarField.Open => bar.Open,
        BarField.High => bar.High,
        BarField.Low => bar.Low,
        BarField.Close => bar.Close,
        _ => bar.Volume,
    };
}

/// <summary>The inner feature's value <c>lag</c> bars ago.</summary>
internal struct LagKernel<TInner>(TInner inner, int lag) : IBarKernel
    where TInner : struct, IBarKernel
{
    private TInner _inner = inner;
    private Lagger _lagger = new(lag);

    public double Next(in Bar bar) => _lagger.Push(_inner.Next(bar));
}

internal enum BarField
{
    Open,
    High,
    Low,
    Close,
    Volume,
}
