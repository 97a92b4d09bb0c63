using System.Diagnostics.Metrics;

namespace MarketIntel.Grains;

/// <summary>
/// This silo's running totals of the grid's work, kept with interlocked increments (cheap enough for every bar
/// and prediction) and observed by the grid's meter, <see cref="MeterName"/>, when its instruments are read.
/// </summary>
public sealed class GridMetrics
{
    /// <summary>The name of the grid's meter.</summary>
    public const string MeterName = "MarketIntel.Grid";

    private readonly SiloModelCache _models;
    private long _barsAccepted;
    private long _barsIgnored;
    private long _barsRejected;
    private long _predictions;
    private long _predictionsLocal;
    private long _activeAssets;
    private long _replays;
    private long _replayedBars;
    private long _replayTicks;

    public GridMetrics(SiloModelCache models, IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _models = models;
        Meter meter = meters.Create(MeterName);
        meter.CreateObservableCounter("marketintel_bars_accepted_total", () => BarsAccepted, unit: null, "Bars accepted by asset grains on this silo");
        meter.CreateObservableCounter("marketintel_bars_ignored_total", () => BarsIgnored, unit: null, "Bars ignored as replays of accepted bars");
        meter.CreateObservableCounter("marketintel_bars_rejected_total", () => BarsRejected, unit: null, "Bars rejected as invalid or out of order");
        meter.CreateObservableCounter("marketintel_predictions_total", () => Predictions, unit: null,
            "Predictions made, on demand and for subscribers after each bar");
        meter.CreateObservableCounter("marketintel_predictions_local_total", () => PredictionsLocal, unit: null,
            "Of those, predictions answered on the request's thread from a grain's published snapshot (no grain call)");
        meter.CreateObservableGauge("marketintel_active_assets", () => ActiveAssets, unit: null, "Asset grains active on this silo");
        meter.CreateObservableCounter("marketintel_asset_replays_total", () => Replays, unit: null,
            "Asset activations that rebuilt their features from the bar archive (cluster mode)");
        meter.CreateObservableCounter("marketintel_asset_replayed_bars_total", () => ReplayedBars, unit: null, "Bars read back from the archive by those replays");
        meter.CreateObservableCounter("marketintel_asset_replay_seconds_total", () => ReplayTime.TotalSeconds, "s", "Time spent replaying archived bars");
        meter.CreateObservableGauge("marketintel_loaded_model_versions", () => LoadedModels, unit: null, "Model versions loaded on this silo");
    }

    public long BarsAccepted => Interlocked.Read(ref _barsAccepted);

    public long BarsIgnored => Interlocked.Read(ref _barsIgnored);

    public long BarsRejected => Interlocked.Read(ref _barsRejected);

    public long Predictions => Interlocked.Read(ref _predictions);

    /// <summary>Of <see cref="Predictions"/>, those answered from a grain's published snapshot without a grain call.</summary>
    public long PredictionsLocal => Interlocked.Read(ref _predictionsLocal);

    /// <summary>Asset grains active on this silo.</summary>
    public long ActiveAssets => Interlocked.Read(ref _activeAssets);

    /// <summary>Activations (or spec changes) that rebuilt an asset's features from the bar archive.</summary>
    public long Replays => Interlocked.Read(ref _replays);

    /// <summary>Bars read back from the archive by those replays.</summary>
    public long ReplayedBars => Interlocked.Read(ref _replayedBars);

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

    internal void Replayed(int bars, TimeSpan took)
    {
        Interlocked.Increment(ref _replays);
        Interlocked.Add(ref _replayedBars, bars);
        Interlocked.Add(ref _replayTicks, took.Ticks);
    }

    internal void Predicted() => Interlocked.Increment(ref _predictions);

    /// <summary>Of the predictions counted, one made from a grain's published snapshot on the caller's thread.</summary>
    internal void PredictedLocally() => Interlocked.Increment(ref _predictionsLocal);

    internal void Activated() => Interlocked.Increment(ref _activeAssets);

    internal void Deactivated() => Interlocked.Decrement(ref _activeAssets);
}
