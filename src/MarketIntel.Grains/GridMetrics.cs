using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Inference;

namespace MarketIntel.Grains;

/// <summary>
/// This silo's running totals of the grid's work, kept with interlocked increments (cheap enough for every bar
/// and prediction) and observed by the grid's meter, <see cref="MeterName"/>, when its instruments are read.
/// </summary>
public sealed class GridMetrics
{
    /// <summary>The name of the grid's meter.</summary>
    public const string MeterName = "MarketIntel.Grid";

    /// <summary>Inference latency buckets: one tree model on one row takes microseconds, a large ONNX graph milliseconds.</summary>
    public static readonly double[] InferenceBuckets =
        [0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1];

    /// <summary>Bar age buckets, in seconds: from live intraday feeds (a second) to daily bars (a day and more).</summary>
    public static readonly double[] BarAgeBuckets = [1, 5, 15, 60, 300, 900, 3600, 14_400, 86_400, 259_200];

    private static readonly string[] BarAgeBounds = [.. BarAgeBuckets.Select(b => b.ToString(CultureInfo.InvariantCulture)), "+Inf"];

    private readonly SiloModelCache _models;
    private long _barsAccepted;
    private long _barsIgnored;
    private long _barsRejected;
    private long _predictions;
    private long _predictionsLocal;
    private long _activations;
    private long _assetsWithData;
    private long _replays;
    private long _replaysFromCheckpoint;
    private long _checkpointsSaved;
    private long _checkpointFailures;
    private long _replayedBars;
    private long _replayTicks;
    private readonly Histogram<double> _inference;
    // Each loaded model's version label, made once: a prediction records its latency without building a string, and
    // finds the label by the model's reference (the silo loads each version once) rather than by hashing its name.
    private readonly ConcurrentDictionary<Model, KeyValuePair<string, object?>> _modelTags = new(ReferenceEqualityComparer.Instance);
    // Live outcome scores per version on this silo (never per asset: a series per version keeps cardinality bounded).
    private readonly ConcurrentDictionary<ModelRef, VersionScoreCounters> _scores = new();
    // When each asset on this silo last accepted bars (Stopwatch ticks), for the bar age distribution.
    private readonly ConcurrentDictionary<string, long> _lastBarAt = new(StringComparer.Ordinal);

    public GridMetrics(SiloModelCache models, IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _models = models;
        Meter meter = meters.Create(MeterName);
        meter.CreateObservableCounter("marketintel_bars_accepted_total", () => BarsAccepted, unit: null, "Bars accepted by asset grains on this silo");
        meter.CreateObservableCounter("marketintel_bars_ignored_total", () => BarsIgnored, unit: null, "Bars ignored as replays of accepted bars");
        meter.CreateObservableCounter("marketintel_bars_rejected_total", () => BarsRejected, unit: null, "Bars rejected as invalid or out of order");
        meter.CreateObservableCounter("marketintel_predictions_total", () => Predictions, unit: null,
            "Predictions made, on demand, for subscribers after each bar, and for scoring (served version and shadows after each bar)");
        meter.CreateObservableCounter("marketintel_predictions_local_total", () => PredictionsLocal, unit: null,
            "Of those, predictions answered on the request's thread from a grain's published snapshot (no grain call)");
        meter.CreateObservableGauge("marketintel_active_assets", () => AssetsWithData, unit: null,
            "Asset grains on this silo that hold bars or a pushed vector (an unknown asset looked up is not one)");
        // Its _count is the predictions per model version: one instrument answers both of a model owner's first questions.
        _inference = meter.CreateHistogram("marketintel_inference_duration_seconds", "s",
            "Time the model took for one prediction, by model version (name@version); _count is the predictions per version", tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = InferenceBuckets });
        // The distribution of ages now, as cumulative bucket gauges (histogram_quantile reads them directly): a series
        // per bucket rather than per asset, and unlike a histogram observed at each scrape its totals do not depend on
        // how many Prometheus servers scrape the silo or how often.
        meter.CreateObservableGauge("marketintel_bar_age_seconds_bucket", BarAgeDistribution, unit: "s",
            "Assets on this silo whose last accepted bar arrived at most le seconds ago (cumulative; le=+Inf counts every asset with bars)");
        meter.CreateObservableCounter("marketintel_asset_replays_total", () => Replays, unit: null,
            "Asset activations that rebuilt their features from the bar archive (cluster mode)");
        meter.CreateObservableCounter("marketintel_asset_replayed_bars_total", () => ReplayedBars, unit: null, "Bars read back from the archive by those replays");
        meter.CreateObservableCounter("marketintel_asset_replay_seconds_total", () => ReplayTime.TotalSeconds, "s", "Time spent replaying archived bars");
        meter.CreateObservableCounter("marketintel_asset_replays_from_checkpoint_total", () => ReplaysFromCheckpoint, unit: null,
            "Of those replays, the ones that continued from a feature-state checkpoint and read only the bars after it");
        meter.CreateObservableCounter("marketintel_asset_checkpoints_total", () => CheckpointsSaved, unit: null,
            "Feature-state checkpoints written to the archive (cluster mode, every Grid:CheckpointEveryBars bars of an asset)");
        meter.CreateObservableCounter("marketintel_asset_checkpoint_failures_total", () => CheckpointFailures, unit: null,
            "Checkpoints that could not be written (the asset replays more bars on its next activation; nothing is lost)");
        meter.CreateObservableGauge("marketintel_loaded_model_versions", () => LoadedModels, unit: null, "Model versions loaded on this silo");
        meter.CreateObservableCounter("marketintel_model_outcomes_total", () => ScoreMeasurements(c => c.Outcomes), unit: null,
            "Live predictions scored against the bar their horizon reached, by model version (name@version)");
        meter.CreateObservableCounter("marketintel_model_hits_total", () => ScoreMeasurements(c => c.Hits), unit: null,
            "Of those, the predictions that called the direction right, by model version");
        meter.CreateObservableCounter("marketintel_model_log_loss_total", () => ScoreMeasurements(c => c.LogLossSum), unit: null,
            "Sum of the log losses of scored direction predictions, by model version (divide by outcomes for the mean)");
        meter.CreateObservableCounter("marketintel_model_brier_total", () => ScoreMeasurements(c => c.BrierSum), unit: null,
            "Sum of the Brier scores of scored direction predictions, by model version");
        meter.CreateObservableCounter("marketintel_model_squared_error_total", () => ScoreMeasurements(c => c.SquaredErrorSum), unit: null,
            "Sum of the squared errors of scored log-return predictions, by model version");
    }

    public long BarsAccepted => Interlocked.Read(ref _barsAccepted);

    public long BarsIgnored => Interlocked.Read(ref _barsIgnored);

    public long BarsRejected => Interlocked.Read(ref _barsRejected);

    public long Predictions => Interlocked.Read(ref _predictions);

    /// <summary>Of <see cref="Predictions"/>, those answered from a grain's published snapshot without a grain call.</summary>
    public long PredictionsLocal => Interlocked.Read(ref _predictionsLocal);

    /// <summary>Asset grains active on this silo, empty ones (an unknown asset just looked up) included: what Grid:MaxActiveAssets bounds.</summary>
    public long ActiveAssets => Interlocked.Read(ref _activations);

    /// <summary>Of those, the assets that hold bars or a pushed vector: <c>marketintel_active_assets</c>.</summary>
    public long AssetsWithData => Interlocked.Read(ref _assetsWithData);

    /// <summary>Activations (or spec changes) that rebuilt an asset's features from the bar archive.</summary>
    public long Replays => Interlocked.Read(ref _replays);

    /// <summary>Bars read back from the archive by those replays.</summary>
    public long ReplayedBars => Interlocked.Read(ref _replayedBars);

    /// <summary>Replays that continued from a checkpoint.</summary>
    public long ReplaysFromCheckpoint => Interlocked.Read(ref _replaysFromCheckpoint);

    /// <summary>Checkpoints written.</summary>
    public long CheckpointsSaved => Interlocked.Read(ref _checkpointsSaved);

    /// <summary>Checkpoints that failed to be written.</summary>
    public long CheckpointFailures => Interlocked.Read(ref _checkpointFailures);

    /// <summary>Time spent replaying, in total.</summary>
    public TimeSpan ReplayTime => TimeSpan.FromTicks(Interlocked.Read(ref _replayTicks));

    /// <summary>Model versions loaded on this silo.</summary>
    public long LoadedModels => _models.Count;

    internal void Ingested(int accepted, int ignored, int rejected)
    {
        if (accepted != 0)
        {
            Interlocked.Add(ref _barsAccepted, accepted);
        }
        if (ignored != 0)
        {
            Interlocked.Add(ref _barsIgnored, ignored);
        }
        if (rejected != 0)
        {
            Interlocked.Add(ref _barsRejected, rejected);
        }
    }

    internal void Checkpointed(bool saved) => Interlocked.Increment(ref saved ? ref _checkpointsSaved : ref _checkpointFailures);

    internal void Replayed(int bars, TimeSpan took, bool fromCheckpoint)
    {
        if (fromCheckpoint)
        {
            Interlocked.Increment(ref _replaysFromCheckpoint);
        }
        Interlocked.Increment(ref _replays);
        Interlocked.Add(ref _replayedBars, bars);
        Interlocked.Add(ref _replayTicks, took.Ticks);
    }

    internal void Predicted(ModelRef model, Model loaded, TimeSpan took) => Predicted(model, loaded, 1, took);

    /// <summary><paramref name="rows"/> predictions made in one batch in <paramref name="took"/>: each counts, timed at its share.</summary>
    internal void Predicted(ModelRef model, Model loaded, int rows, TimeSpan took)
    {
        Interlocked.Add(ref _predictions, rows);
        if (!_modelTags.TryGetValue(loaded, out var tag))
        {
            tag = _modelTags.GetOrAdd(loaded, static (_, m) => new("model", m.ToString()), model);
        }
        double each = took.TotalSeconds / rows;
        for (int i = 0; i < rows; i++)
        {
            _inference.Record(each, tag);
        }
    }

    /// <summary>
    /// The silo's score counters of <paramref name="model"/>, shared by every asset scoring it: an asset grain looks
    /// them up when its versions change, not per outcome.
    /// </summary>
    internal VersionScoreCounters ScoresOf(ModelRef model) =>
        _scores.GetOrAdd(model, static m => new VersionScoreCounters(new KeyValuePair<string, object?>("model", m.ToString())));

    private IEnumerable<Measurement<T>> ScoreMeasurements<T>(Func<VersionScoreCounters, T> read)
        where T : struct =>
        _scores.Values.Select(c => new Measurement<T>(read(c), c.Tag));

    /// <summary>Of the predictions counted, one made from a grain's published snapshot on the caller's thread.</summary>
    internal void PredictedLocally() => Interlocked.Increment(ref _predictionsLocal);

    internal void Activated() => Interlocked.Increment(ref _activations);

    internal void Deactivated() => Interlocked.Decrement(ref _activations);

    /// <summary>An asset came to hold data (true) or no longer does (false: it lost its data or deactivated).</summary>
    internal void HoldsData(string asset, bool holds)
    {
        if (holds)
        {
            Interlocked.Increment(ref _assetsWithData);
        }
        else
        {
            Interlocked.Decrement(ref _assetsWithData);
            _lastBarAt.TryRemove(asset, out _);
        }
    }

    /// <summary>The asset accepted bars just now.</summary>
    internal void BarsArrived(string asset) => _lastBarAt[asset] = Stopwatch.GetTimestamp();

    // Counts per bucket over every asset's age, at the moment of the scrape.
    private IEnumerable<Measurement<long>> BarAgeDistribution()
    {
        var counts = new long[BarAgeBounds.Length];
        long now = Stopwatch.GetTimestamp();
        foreach (long arrived in _lastBarAt.Values)
        {
            double age = Stopwatch.GetElapsedTime(arrived, now).TotalSeconds;
            int bucket = Array.FindIndex(BarAgeBuckets, b => age <= b);
            counts[bucket < 0 ? BarAgeBuckets.Length : bucket]++;
        }
        var measurements = new Measurement<long>[counts.Length];
        long cumulative = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            cumulative += counts[i];
            measurements[i] = new Measurement<long>(cumulative, new KeyValuePair<string, object?>("le", BarAgeBounds[i]));
        }
        return measurements;
    }
}

/// <summary>One version's live outcome scores on a silo, summed over its assets with interlocked additions.</summary>
internal sealed class VersionScoreCounters(KeyValuePair<string, object?> tag)
{
    private long _outcomes;
    private long _hits;
    private double _logLossSum;
    private double _brierSum;
    private double _squaredErrorSum;

    /// <summary>The version's label, as the inference metric writes it.</summary>
    public KeyValuePair<string, object?> Tag => tag;

    public long Outcomes => Interlocked.Read(ref _outcomes);

    public long Hits => Interlocked.Read(ref _hits);

    public double LogLossSum => Volatile.Read(ref _logLossSum);

    public double BrierSum => Volatile.Read(ref _brierSum);

    public double SquaredErrorSum => Volatile.Read(ref _squaredErrorSum);

    /// <summary><paramref name="outcomes"/> outcomes scored: how many were hits, and the sums of their losses (0 where the kind has none).</summary>
    public void Scored(long outcomes, long hits, double logLoss, double brier, double squaredError)
    {
        Interlocked.Add(ref _outcomes, outcomes);
        if (hits != 0)
        {
            Interlocked.Add(ref _hits, hits);
        }
        if (logLoss != 0)
        {
            Add(ref _logLossSum, logLoss);
        }
        if (brier != 0)
        {
            Add(ref _brierSum, brier);
        }
        if (squaredError != 0)
        {
            Add(ref _squaredErrorSum, squaredError);
        }
    }

    // Interlocked has no addition of doubles: compare-and-swap until no other thread got in between.
    private static void Add(ref double sum, double value)
    {
        double seen = Volatile.Read(ref sum);
        while (true)
        {
            double found = Interlocked.CompareExchange(ref sum, seen + value, seen);
            if (found.Equals(seen))
            {
                return;
            }
            seen = found;
        }
    }
}
