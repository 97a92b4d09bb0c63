using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MarketIntel.Features;
using MarketIntel.Features.Io;

namespace MarketIntel.Benchmarks;

/// <summary>
/// The feature engine on the 62,496 half-hour USD/CHF closes: all 20 indicators in batch form (one pass each,
/// single thread), and one streaming update of all 20 for one asset. Baselines: the same with SMA alone.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class FeatureBenchmarks
{
    public const string Standard =
        "sma_20,ema_20,wma_10,rsi_14,atr_14,macd_12_26_9,macdsignal_12_26_9,bbpctb_20_2,bbwidth_20_2,roc_10," +
        "stochk_14_3,stochd_14_3,obv,logretsd_20,cci_20,adx_14,wpr_14,mfi_14,vwap_20,zscore_20";

    private const int StreamBars = 4096;

    private BarSeries _bars = null!;
    private FeatureSet _all = null!;
    private FeatureSet _sma = null!;
    private double[][] _columns = null!;
    private StreamingFeatureSet _allStream = null!;
    private StreamingFeatureSet _smaStream = null!;
    private Bar[] _stream = null!;
    private double[] _values = null!;

    [GlobalSetup]
    public void Setup()
    {
        _bars = BarCsv.Read(Repo.File("data", "usdchf-30m.csv"));
        _all = FeatureSet.Parse(Standard);
        _sma = FeatureSet.Parse("sma_20");
        _columns = _all.Definitions.Select(_ => new double[_bars.Count]).ToArray();
        _stream = Enumerable.Range(0, StreamBars).Select(i => _bars[i]).ToArray();
        _values = new double[_all.Count];
        _allStream = _all.CreateStream();
        _smaStream = _sma.CreateStream();

        // Check the answer before timing it: streaming must reproduce batch, and SMA must be the plain mean.
        Batch();
        var check = _all.CreateStream();
        for (int i = 0; i < 1000; i++)
        {
            check.Update(_bars[i], _values);
        }
        for (int f = 0; f < _all.Count; f++)
        {
            if (!_values[f].Equals(_columns[f][999]))
            {
                throw new InvalidOperationException($"streaming and batch disagree on {_all.Definitions[f].Name}");
            }
        }
        double mean = _bars.Close.AsSpan(980, 20).ToArray().Average();
        if (Math.Abs(_columns[0][999] - mean) > 1e-12)
        {
            throw new InvalidOperationException("sma_20 is wrong");
        }
    }

    [Benchmark(Baseline = true), BenchmarkCategory("batch")]
    public void BatchSmaOnly() => _sma.Definitions[0].Compute(_bars, _columns[0]);

    /// <summary>All 20 indicators over all 62,496 bars.</summary>
    [Benchmark, BenchmarkCategory("batch")]
    public void Batch()
    {
        var defs = _all.Definitions;
        for (int f = 0; f < defs.Count; f++)
        {
            defs[f].Compute(_bars, _columns[f]);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = StreamBars), BenchmarkCategory("stream")]
    public void StreamUpdateSmaOnly()
    {
        for (int i = 0; i < _stream.Length; i++)
        {
            _smaStream.Update(_stream[i], _values);
        }
    }

    /// <summary>One bar update of all 20 indicators for one asset (time per update).</summary>
    [Benchmark(OperationsPerInvoke = StreamBars), BenchmarkCategory("stream")]
    public void StreamUpdateAll()
    {
        for (int i = 0; i < _stream.Length; i++)
        {
            _allStream.Update(_stream[i], _values);
        }
    }
}
