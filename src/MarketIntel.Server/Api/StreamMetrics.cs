using System.Diagnostics.Metrics;

namespace MarketIntel.Server.Api;

/// <summary>What <c>StreamPredictions</c> calls lost to clients that read too slowly, on this silo.</summary>
internal sealed class StreamMetrics
{
    /// <summary>The name of this component's meter.</summary>
    public const string MeterName = "MarketIntel.Api";

    private long _stalled;
    private long _dropped;

    public StreamMetrics(IMeterFactory meters)
    {
        Meter meter = meters.Create(MeterName);
        meter.CreateObservableCounter("marketintel_stream_stalled_total", () => Interlocked.Read(ref _stalled),
            unit: null, "StreamPredictions calls cut off because their client stopped reading (Limits:StreamStallTimeout)");
        meter.CreateObservableCounter("marketintel_stream_predictions_dropped_total", () => Interlocked.Read(ref _dropped),
            unit: null, "Predictions dropped because a StreamPredictions client fell more than the buffer behind");
    }

    /// <summary>A stream cut off because its client stopped reading.</summary>
    public void Stalled() => Interlocked.Increment(ref _stalled);

    /// <summary>A prediction dropped for a client more than the buffer behind.</summary>
    public void Dropped() => Interlocked.Increment(ref _dropped);
}
