using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MarketIntel.Abstractions.Models;

namespace MarketIntel.Grains.Retraining;

/// <summary>
/// This silo's retraining jobs, as the coordinators on it see them: how many reached each end state by trigger, and
/// how many are active now. Coordinators live on serving silos, so cluster-wide figures are sums over those in PromQL.
/// </summary>
public sealed class RetrainMetrics
{
    /// <summary>The meter the retraining instruments are on.</summary>
    public const string MeterName = "MarketIntel.Retraining";

    private readonly ConcurrentDictionary<(RetrainTrigger Trigger, RetrainJobState State), Ended> _ended = new();
    // The model names whose coordinator on this silo holds an active job.
    private readonly ConcurrentDictionary<string, byte> _active = new(StringComparer.Ordinal);

    /// <summary>Creates the instruments on the silo's meter factory.</summary>
    public RetrainMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        Meter meter = meters.Create(MeterName);
        meter.CreateObservableCounter("marketintel_retrain_jobs_total", () => _ended.Values.Select(e => new Measurement<long>(Interlocked.Read(ref e.Count), e.Tags)),
            unit: null, "Retraining jobs that reached an end state (registered, then promoted or rejected; failed; cancelled), by trigger and state");
        meter.CreateObservableGauge("marketintel_retrain_jobs_active", () => (long)_active.Count, unit: null,
            "Retraining jobs waiting for a worker or running, held by the coordinators on this silo");
    }

    /// <summary>Counts a job of <paramref name="trigger"/> reaching <paramref name="state"/>.</summary>
    public void Reached(RetrainTrigger trigger, RetrainJobState state) =>
        Interlocked.Increment(ref _ended.GetOrAdd((trigger, state), static k => new Ended(k.Trigger, k.State)).Count);

    /// <summary>Sets whether model <paramref name="name"/>'s coordinator on this silo holds an active job.</summary>
    public void Active(string name, bool active)
    {
        if (active)
        {
            _active[name] = 0;
        }
        else
        {
            _active.TryRemove(name, out _);
        }
    }

    /// <summary>How many jobs are active on this silo now.</summary>
    public int ActiveJobs => _active.Count;

    // The tags are made once per (trigger, state), so the exporter recognises the series by reference.
    private sealed class Ended(RetrainTrigger trigger, RetrainJobState state)
    {
        public long Count;

        public KeyValuePair<string, object?>[] Tags { get; } = [new("trigger", RetrainText.Name(trigger)), new("state", RetrainText.Name(state))];
    }
}
