using MarketIntel.Grains;
using Prometheus;

namespace MarketIntel.Server.Hosting;

/// <summary>Publishes the silo's <see cref="GridMetrics"/> in Prometheus format, read on each scrape.</summary>
internal static class GridPrometheus
{
    private static readonly Counter BarsAccepted = Metrics.CreateCounter("marketintel_bars_accepted_total", "Bars accepted by asset grains on this silo");
    private static readonly Counter BarsIgnored = Metrics.CreateCounter("marketintel_bars_ignored_total", "Bars ignored as replays of accepted bars");
    private static readonly Counter BarsRejected = Metrics.CreateCounter("marketintel_bars_rejected_total", "Bars rejected as invalid or out of order");
    private static readonly Counter Predictions = Metrics.CreateCounter("marketintel_predictions_total", "Predictions made, on demand and for subscribers after each bar");
    private static readonly Counter PredictionsLocal = Metrics.CreateCounter("marketintel_predictions_local_total", "Of those, predictions answered on the request's thread from a grain's published snapshot (no grain call)");
    private static readonly Gauge ActiveAssets = Metrics.CreateGauge("marketintel_active_assets", "Asset grains active on this silo");
    private static readonly Counter Replays = Metrics.CreateCounter("marketintel_asset_replays_total", "Asset activations that rebuilt their features from the bar archive (cluster mode)");
    private static readonly Counter ReplayedBars = Metrics.CreateCounter("marketintel_asset_replayed_bars_total", "Bars read back from the archive by those replays");
    private static readonly Counter ReplaySeconds = Metrics.CreateCounter("marketintel_asset_replay_seconds_total", "Time spent replaying archived bars");
    private static readonly Counter ArchiveWrites = Metrics.CreateCounter("marketintel_archive_writes_total", "Statements (each one commit) that wrote accepted bars to PostgreSQL (cluster mode)");
    private static readonly Counter ArchiveRows = Metrics.CreateCounter("marketintel_archive_rows_total", "Bars carried by those statements: divided by the writes, the group-commit batch size");
    private static readonly Gauge LoadedModels = Metrics.CreateGauge("marketintel_loaded_model_versions", "Model versions loaded on this silo");

    /// <summary>Request latency buckets from 50 µs to 2.5 s: the grid answers in well under a millisecond.</summary>
    public static readonly double[] LatencyBuckets =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    public static void Publish(GridMetrics metrics, LocalPredictor local, Storage.Postgres.Storage.PostgresBarArchive? archive)
    {
        Metrics.DefaultRegistry.AddBeforeCollectCallback(() =>
        {
            BarsAccepted.IncTo(metrics.BarsAccepted);
            BarsIgnored.IncTo(metrics.BarsIgnored);
            BarsRejected.IncTo(metrics.BarsRejected);
            Predictions.IncTo(metrics.Predictions);
            PredictionsLocal.IncTo(local.LocalHits);
            ActiveAssets.Set(metrics.ActiveAssets);
            Replays.IncTo(metrics.Replays);
            ReplayedBars.IncTo(metrics.ReplayedBars);
            ReplaySeconds.IncTo(metrics.ReplayTime.TotalSeconds);
            if (archive is not null)
            {
                ArchiveWrites.IncTo(archive.Writes);
                ArchiveRows.IncTo(archive.Rows);
            }
            LoadedModels.Set(metrics.LoadedModels);
        });
    }
}
