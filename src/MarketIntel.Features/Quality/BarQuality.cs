using System.Globalization;
using MarketIntel.Features.Kernels;

namespace MarketIntel.Features.Quality;

/// <summary>
/// Data-quality detectors for one asset's bars, fed bar by bar in time order: gaps against the usual bar interval,
/// stale prices and spikes (<see cref="BarQualityOptions"/> has the rules). <see cref="Observe"/> is O(1) and
/// allocates nothing: findings are kept as numbers in a fixed ring and put into words only by
/// <see cref="Snapshot"/>. Not thread-safe: one owner (an asset's grain) feeds and reads it.
/// </summary>
public sealed class BarQuality
{
    private readonly double _gapMultiple;
    private readonly int _staleBars;
    private readonly double _spikeSigmasSquared;
    private readonly double _spikeReversal;
    private readonly MarketClock _clock;
    private readonly RollingMedian _intervals;
    private RollingMoments _returns;         // a mutable struct: kept in a field, never copied
    private readonly int _recentLength;
    private Finding[]? _recent;              // allocated with the first finding: most assets' bars never give one

    private long _bars;
    private long _lastMs;
    private double _lastClose;
    private long _gaps;
    private long _staleRuns;
    private long _spikes;
    private long _findings;                  // findings ever recorded; finding k sits in _recent[k % length]

    private int _run = 1;                    // bars in the current run of equal closes
    private long _runStartMs;
    private long _runFinding = -1;           // the stale finding of the current run, once it has one

    private bool _candidate;                 // a jump waiting for the next bar to show whether it comes back
    private long _candidateMs;
    private double _candidateReturn;
    private double _candidateSigma;
    private double _candidateBase;           // the close before the jump

    /// <summary>Detectors with <paramref name="options"/>, checked first: every setting at fault is named.</summary>
    public BarQuality(BarQualityOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> problems = options.Problems();
        if (problems.Count > 0)
        {
            throw new ArgumentException("bar quality options: " + string.Join("; ", problems), nameof(options));
        }
        _gapMultiple = options.GapMultiple;
        _staleBars = options.StaleBars;
        _spikeSigmasSquared = options.SpikeSigmas * options.SpikeSigmas;
        _spikeReversal = options.SpikeReversal;
        _clock = new MarketClock(options.WeekendStartDay, options.WeekendStartTime, options.WeekendLength, options.HolidayDays);
        _intervals = new RollingMedian(options.IntervalWindow);
        _returns = new RollingMoments(options.SpikeWindow);
        _recentLength = options.RecentFindings;
    }

    /// <summary>Bars observed so far.</summary>
    public long Bars => _bars;

    /// <summary>Findings so far, of every kind: a cheap way for an owner to notice a new one without a snapshot.</summary>
    public long Findings => _findings;

    /// <summary>
    /// Takes the next bar: its time (Unix ms, after the previous bar's) and close (positive and finite). A bar that
    /// breaks either rule is refused with an <see cref="ArgumentException"/> naming it, and changes nothing.
    /// </summary>
    public void Observe(long timestampMs, double close)
    {
        if (!(close > 0 && double.IsFinite(close)))
        {
            ThrowBadClose(timestampMs, close);
        }
        if (_bars == 0)
        {
            _runStartMs = timestampMs;
        }
        else
        {
            if (timestampMs <= _lastMs)
            {
                ThrowOutOfOrder(timestampMs, _lastMs);
            }
            CheckInterval(timestampMs);
            CheckStale(timestampMs, close);
            CheckSpike(timestampMs, close);
        }
        _bars++;
        _lastMs = timestampMs;
        _lastClose = close;
    }

    private void CheckInterval(long timestampMs)
    {
        long interval = _clock.Between(_lastMs, timestampMs);
        if (interval <= 0)
        {
            return; // both bars inside the weekly closure: no market time passed, nothing to learn or judge
        }
        if (_intervals.IsFull)
        {
            long usual = _intervals.Median;
            if (interval > _gapMultiple * usual)
            {
                _gaps++;
                Record(new Finding(Kind.Gap, timestampMs, _lastMs, interval, usual));
            }
        }
        _intervals.Push(interval);
    }

    private void CheckStale(long timestampMs, double close)
    {
        if (close != _lastClose)
        {
            _run = 1;
            _runStartMs = timestampMs;
            _runFinding = -1;
            return;
        }
        _run++;
        if (_run == _staleBars)
        {
            _staleRuns++;
            _runFinding = _findings;
            Record(new Finding(Kind.Stale, _runStartMs, timestampMs, _run, close));
        }
        else if (_runFinding >= 0 && _findings - _runFinding <= _recentLength)
        {
            // The run goes on: its finding (still in the ring) says how long it has lasted.
            ref Finding finding = ref _recent![_runFinding % _recentLength];
            finding.Until = timestampMs;
            finding.Count = _run;
        }
    }

    private void CheckSpike(long timestampMs, double close)
    {
        double logReturn = Math.Log(close / _lastClose);
        if (_candidate)
        {
            _candidate = false;
            double net = Math.Log(close / _candidateBase);
            double takenBack = 1 - Math.Abs(net) / Math.Abs(_candidateReturn);
            if (takenBack >= _spikeReversal)
            {
                _spikes++;
                Record(new Finding(Kind.Spike, _candidateMs, _candidateReturn, _candidateSigma, takenBack));
                // The scale goes on from the move without the bad tick, so one bad tick does not inflate it for a window.
                _returns.Push(net);
                return;
            }
            _returns.Push(_candidateReturn);
        }
        if (_returns.IsFull)
        {
            // Squares, so the square root is taken only for a candidate. A window of equal closes has no scale to
            // measure against (variance 0); stale prices are their own finding.
            double variance = _returns.Variance(sample: true);
            if (variance > 0 && logReturn * logReturn > _spikeSigmasSquared * variance)
            {
                double sigma = Math.Sqrt(variance);
                if (_spikeReversal > 0)
                {
                    _candidate = true;
                    _candidateMs = timestampMs;
                    _candidateReturn = logReturn;
                    _candidateSigma = sigma;
                    _candidateBase = _lastClose;
                    return;
                }
                _spikes++;
                Record(new Finding(Kind.Spike, timestampMs, logReturn, sigma, double.NaN));
            }
        }
        _returns.Push(logReturn);
    }

    private void Record(in Finding finding)
    {
        _recent ??= new Finding[_recentLength];
        _recent[_findings % _recentLength] = finding;
        _findings++;
    }

    /// <summary>The totals and the latest findings in words (this allocates; call it to answer, not per bar).</summary>
    public BarQualityReport Snapshot()
    {
        int held = (int)Math.Min(_findings, _recentLength);
        var recent = new QualityFinding[held];
        for (int i = 0; i < held; i++)
        {
            recent[i] = Describe(_recent![(_findings - held + i) % _recentLength]);
        }
        int currentStale = _bars > 0 && _run >= _staleBars ? _run : 0;
        double usual = _intervals.IsFull ? _intervals.Median : 0;
        return new BarQualityReport(_bars, usual, _gaps, _staleRuns, currentStale, _spikes, recent);
    }

    private static QualityFinding Describe(in Finding f) => f.Kind switch
    {
        Kind.Gap => new QualityFinding(QualityFinding.Gap, f.AtMs, Text(
            $"{Duration(f.Span)} of market time without a bar after the bar at {Utc(f.Since)}: {(double)f.Span / f.Usual:0.##} usual intervals of {Duration(f.Usual)}")),
        Kind.Stale => new QualityFinding(QualityFinding.Stale, f.AtMs, Text(
            $"close {f.Value:R} on {f.Count} bars in a row, from {Utc(f.AtMs)} to {Utc(f.Until)}")),
        _ => new QualityFinding(QualityFinding.Spike, f.AtMs, double.IsNaN(f.TakenBack)
            ? Text($"log return {f.Value:+0.######;-0.######} is {Math.Abs(f.Value) / f.Sigma:0.0} rolling standard deviations ({f.Sigma:G3})")
            : Text($"log return {f.Value:+0.######;-0.######} is {Math.Abs(f.Value) / f.Sigma:0.0} rolling standard deviations ({f.Sigma:G3}) and the next bar took {f.TakenBack:0%} of it back")),
    };

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Utc(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A length of time in its largest whole units: 4d, 1d12h, 30m, 1m30s, 250ms.</summary>
    private static string Duration(long ms)
    {
        if (ms < 1000)
        {
            return Text($"{ms}ms");
        }
        var span = TimeSpan.FromMilliseconds(ms);
        string text = (span.Days > 0 ? Text($"{span.Days}d") : "") + (span.Hours > 0 ? Text($"{span.Hours}h") : "")
            + (span.Minutes > 0 ? Text($"{span.Minutes}m") : "") + (span.Seconds > 0 ? Text($"{span.Seconds}s") : "");
        return text;
    }

    private static void ThrowBadClose(long timestampMs, double close) =>
        throw new ArgumentOutOfRangeException(nameof(close), close,
            Text($"bar quality: the bar at {Utc(timestampMs)} has close {close}; a close must be a positive finite number"));

    private static void ThrowOutOfOrder(long timestampMs, long lastMs) =>
        throw new ArgumentException(
            Text($"bar quality: the bar at {Utc(timestampMs)} is not after the previous bar at {Utc(lastMs)}; bars must come in time order"),
            nameof(timestampMs));

    private enum Kind : byte
    {
        Gap,
        Stale,
        Spike,
    }

    /// <summary>
    /// A finding as numbers; which fields mean what depends on the kind. The 8-byte fields come first and the kind
    /// last, beside the count, so that the struct packs into 72 bytes rather than 80.
    /// </summary>
    private struct Finding
    {
        public long AtMs;
        public long Since;        // gap: the bar before the missing time
        public long Span;         // gap: market time without a bar
        public long Usual;        // gap: the usual interval then
        public long Until;        // stale: the latest bar of the run
        public double Value;      // stale: the close; spike: the log return
        public double Sigma;      // spike: the rolling standard deviation
        public double TakenBack;  // spike: the share the next bar took back (NaN without the reversal test)
        public int Count;         // stale: bars in the run
        public Kind Kind;

        public Finding(Kind kind, long atMs, long since, long span, long usual)
        {
            Kind = kind;
            AtMs = atMs;
            Since = since;
            Span = span;
            Usual = usual;
        }

        public Finding(Kind kind, long atMs, long until, int count, double close)
        {
            Kind = kind;
            AtMs = atMs;
            Until = until;
            Count = count;
            Value = close;
        }

        public Finding(Kind kind, long atMs, double logReturn, double sigma, double takenBack)
        {
            Kind = kind;
            AtMs = atMs;
            Value = logReturn;
            Sigma = sigma;
            TakenBack = takenBack;
        }
    }
}
