using System.Diagnostics;
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MarketIntel.Abstractions;
using MarketIntel.Grains;
using MarketIntel.Grains.Assets;
using MarketIntel.Inference;
using MarketIntel.Server.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace MarketIntel.Benchmarks;

/// <summary>
/// What timing each prediction under its model version (<c>marketintel_inference_duration_seconds{model}</c>) costs,
/// time per prediction, one thread. Two groups, each against the path before that metric (a prediction only counted):
/// the record alone (<see cref="GridMetrics"/>.Predicted with a fixed duration), and a whole <see cref="ModelRun"/>
/// prediction on the serving benchmark's model (300 trees of depth 6 over 40 features). Each with nothing listening to
/// the grid's meter and with the grid's export (what /metrics serves) listening. Each case runs in a process of its
/// own, so the listeners do not meet.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class PredictionMetricsBenchmarks
{
    private const int Rows = 1000;
    private const string Record = "the record alone";
    private const string Prediction = "ModelRun.Predict, 300 trees";
    private static readonly ModelRef Version = new("bench", "d6-n300");
    private static readonly TimeSpan Took = TimeSpan.FromTicks(12);
    private ServiceProvider _host = null!;
    private IDisposable? _listener;
    private GridMetrics _metrics = null!;
    private Model _model = null!;
    private float[] _rows = null!;
    private int _features;
    private long _counted;

    private void Setup(bool listen)
    {
        _host = new ServiceCollection().AddMetrics().BuildServiceProvider();
        IMeterFactory meters = _host.GetRequiredService<IMeterFactory>();
        // Disposed by Cleanup, which BenchmarkDotNet calls after the runs.
        _listener = listen ? StartExport(meters) : null;
        // The model cache is only read for its count at a scrape; no grain is asked for a model here.
        _metrics = new GridMetrics(new SiloModelCache(grains: null!), meters);
        _model = Model.Load(Repo.SpeedModel(), "bench-d6-n300-f40");
        _rows = Repo.SpeedModelRows(_model);
        _features = _model.FeatureCount;

        // The answer must be right before it is timed: the run's predictions equal the model's, each counted once, and
        // where the export listens, each recorded under the version's label.
        var direct = new float[1];
        for (int r = 0; r < Rows; r++)
        {
            _model.Predict(Row(r), direct);
            if (ModelRun.Predict("A", Version, _model, Row(r), r, _metrics).Values[0] != direct[0])
            {
                throw new InvalidOperationException($"row {r}: ModelRun's prediction differs from the model's");
            }
        }
        if (_metrics.Predictions != Rows)
        {
            throw new InvalidOperationException($"{_metrics.Predictions} predictions counted, {Rows} made");
        }
        if (listen)
        {
            using var text = new MemoryStream();
            Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(text).GetAwaiter().GetResult();
            string expected = $"marketintel_inference_duration_seconds_count{{model=\"{Version}\"}} {Rows}";
            if (!System.Text.Encoding.UTF8.GetString(text.ToArray()).Split('\n').Contains(expected))
            {
                throw new InvalidOperationException($"/metrics lacks '{expected}'");
            }
        }
    }

    [GlobalSetup(Targets = [nameof(CountOnly), nameof(RecordNoListener), nameof(Unlabelled), nameof(PredictNoListener)])]
    public void SetupNoListener() => Setup(listen: false);

    [GlobalSetup(Targets = [nameof(RecordExport), nameof(TimedRecordExport), nameof(PredictExport)])]
    public void SetupExport() => Setup(listen: true);

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener?.Dispose();
        _host.Dispose();
    }

    private static IDisposable StartExport(IMeterFactory meters)
    {
        PrometheusExport.ExcludeFromMeterAdapter();
        return new PrometheusExport(meters);
    }

    private ReadOnlySpan<float> Row(int r) => _rows.AsSpan(r * _features, _features);

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows)]
    [BenchmarkCategory(Record)]
    public long CountOnly()
    {
        long n = 0;
        for (int r = 0; r < Rows; r++)
        {
            n = Interlocked.Increment(ref _counted);
        }
        return n;
    }

    [Benchmark(OperationsPerInvoke = Rows)]
    [BenchmarkCategory(Record)]
    public void RecordNoListener()
    {
        for (int r = 0; r < Rows; r++)
        {
            _metrics.Predicted(Version, _model, Took);
        }
    }

    [Benchmark(OperationsPerInvoke = Rows)]
    [BenchmarkCategory(Record)]
    public void RecordExport() => RecordNoListener();

    // What ModelRun adds around the model as the server runs: the two timestamps and the record, the export listening.
    [Benchmark(OperationsPerInvoke = Rows)]
    [BenchmarkCategory(Record)]
    public void TimedRecordExport()
    {
        for (int r = 0; r < Rows; r++)
        {
            long started = Stopwatch.GetTimestamp();
            _metrics.Predicted(Version, _model, Stopwatch.GetElapsedTime(started));
        }
    }

    // ModelRun.Predict as it was before the metric: the same allocations and prediction, counted only.
    [Benchmark(Baseline = true, OperationsPerInvoke = Rows)]
    [BenchmarkCategory(Prediction)]
    public PredictionResult Unlabelled()
    {
        PredictionResult last = null!;
        for (int r = 0; r < Rows; r++)
        {
            var output = new float[_model.OutputCount];
            _model.Predict(Row(r), output);
            Interlocked.Increment(ref _counted);
            last = new PredictionResult("A", output, Version, r);
        }
        return last;
    }

    [Benchmark(OperationsPerInvoke = Rows)]
    [BenchmarkCategory(Prediction)]
    public PredictionResult PredictNoListener()
    {
        PredictionResult last = null!;
        for (int r = 0; r < Rows; r++)
        {
            last = ModelRun.Predict("A", Version, _model, Row(r), r, _metrics);
        }
        return last;
    }

    [Benchmark(OperationsPerInvoke = Rows)]
    [BenchmarkCategory(Prediction)]
    public PredictionResult PredictExport() => PredictNoListener();
}
