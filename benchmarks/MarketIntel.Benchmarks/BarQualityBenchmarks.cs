using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MarketIntel.Features.Io;
using MarketIntel.Features.Quality;

namespace MarketIntel.Benchmarks;

/// <summary>
/// The data-quality detectors' cost per bar for one asset (<see cref="BarQuality.Observe"/>), on the 62,496 half-hour
/// USD/CHF closes (intraday: stale runs, a spike) and the 5,550 TTRC days (daily: every weekend passes the holiday
/// check). Baseline per category: the log return alone, the least any spike test computes per bar.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class BarQualityBenchmarks
{
    private const long Week = 7 * 86_400_000L;

    private Series _intraday = null!;
    private Series _daily = null!;

    [GlobalSetup]
    public void Setup()
    {
        _intraday = new Series("usdchf-30m.csv");
        _daily = new Series("ttrc-daily.csv");
        // Check the answer before timing it: the findings docs/data-quality.md lists for these files.
        var usdchf = new BarQuality(new BarQualityOptions());
        _intraday.Feed(usdchf);
        var report = usdchf.Snapshot();
        if (report.Gaps != 0 || report.StaleRuns != 54 || report.Spikes != 1 || report.UsualIntervalMs != 1_800_000)
        {
            throw new InvalidOperationException($"usdchf-30m.csv: unexpected report {report}");
        }
        var ttrc = new BarQuality(new BarQualityOptions());
        _daily.Feed(ttrc);
        report = ttrc.Snapshot();
        if (report.Gaps != 1 || report.StaleRuns != 0 || report.Spikes != 0 || report.UsualIntervalMs != 86_400_000)
        {
            throw new InvalidOperationException($"ttrc-daily.csv: unexpected report {report}");
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = 62_496), BenchmarkCategory("intraday")]
    public double IntradayLogReturnOnly() => _intraday.LogReturns();

    /// <summary>One bar through every detector (time per bar).</summary>
    [Benchmark(OperationsPerInvoke = 62_496), BenchmarkCategory("intraday")]
    public void IntradayObserve() => _intraday.Feed(_intraday.Quality);

    [Benchmark(Baseline = true, OperationsPerInvoke = 5_550), BenchmarkCategory("daily")]
    public double DailyLogReturnOnly() => _daily.LogReturns();

    /// <summary>One bar through every detector (time per bar).</summary>
    [Benchmark(OperationsPerInvoke = 5_550), BenchmarkCategory("daily")]
    public void DailyObserve() => _daily.Feed(_daily.Quality);

    /// <summary>A file's bars, fed again and again to one detector: each pass is moved on by whole weeks, so time keeps its order and weekends stay weekends.</summary>
    private sealed class Series
    {
        private readonly long[] _times;
        private readonly double[] _closes;
        private readonly long _passLength;
        private long _offset;

        public Series(string file)
        {
            var bars = BarCsv.Read(Repo.File("data", file));
            _times = bars.Timestamps.Select(t => DateTimeOffset.Parse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUnixTimeMilliseconds()).ToArray();
            _closes = bars.Close;
            _passLength = (_times[^1] - _times[0]) / Week * Week + Week;
            if (_closes.Length != (file.StartsWith("usdchf", StringComparison.Ordinal) ? 62_496 : 5_550))
            {
                throw new InvalidOperationException($"{file}: {_closes.Length} bars, the benchmark's OperationsPerInvoke assumes otherwise");
            }
        }

        public BarQuality Quality { get; } = new(new BarQualityOptions());

        public void Feed(BarQuality quality)
        {
            long[] times = _times;
            double[] closes = _closes;
            long offset = _offset;
            for (int i = 0; i < times.Length; i++)
            {
                quality.Observe(times[i] + offset, closes[i]);
            }
            _offset += _passLength;
        }

        public double LogReturns()
        {
            double[] closes = _closes;
            double sum = 0;
            for (int i = 1; i < closes.Length; i++)
            {
                sum += Math.Log(closes[i] / closes[i - 1]);
            }
            return sum;
        }
    }
}
