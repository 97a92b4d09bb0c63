using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MarketIntel.Abstractions;

namespace MarketIntel.Grains.Drift;

/// <summary>
/// This silo's drift per model version, never per asset or feature: how many of its assets have a reference and a
/// full window, how many of those drift, how many of their series drift in all, and the worst PSI among them. Each
/// asset grain reports its latest evaluation (<see cref="Report"/>) and withdraws it when it stops counting for the
/// version; the gauges read the reports when scraped. Cluster-wide figures are sums (the worst PSI a max) in PromQL.
/// </summary>
public sealed class DriftMetrics
{
    /// <summary>The meter the drift gauges are on.</summary>
    public const string MeterName = "MarketIntel.Drift";

    // A version once reported stays (its gauges read 0, and NaN for the worst PSI, when no asset reports it): a
    // series that vanished would keep its last value in the exporter.
    private readonly ConcurrentDictionary<ModelRef, Version> _versions = new();

    /// <summary>Creates the gauges on the silo's meter factory.</summary>
    public DriftMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        Meter meter = meters.Create(MeterName);
        meter.CreateObservableGauge("marketintel_drift_assets", () => Measure(e => (long)e.Count), unit: null,
            "Assets serving the version with a reference profile and a full drift window, on this silo");
        meter.CreateObservableGauge("marketintel_drift_drifting_assets", () => Measure(e => (long)e.Count(a => a.DriftingSeries > 0)), unit: null,
            "Of those, assets with at least one drifting input or prediction");
        meter.CreateObservableGauge("marketintel_drift_drifting_features", () => Measure(e => e.Sum(a => (long)a.DriftingSeries)), unit: null,
            "Drifting series (inputs and prediction) summed over those assets");
        meter.CreateObservableGauge("marketintel_drift_worst_psi",
            () => Measure(e => e.Select(a => a.WorstPsi).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max()), unit: null,
            "The largest PSI of any series of those assets (NaN when none has one)");
    }

    /// <summary>One asset's latest evaluation of a full window: how many of its series drift, and its largest PSI.</summary>
    public readonly record struct Evaluation(int DriftingSeries, double WorstPsi);

    /// <summary>Sets what <paramref name="asset"/> reports for <paramref name="version"/>.</summary>
    public void Report(ModelRef version, string asset, Evaluation evaluation) =>
        _versions.GetOrAdd(version, static v => new Version(v)).Assets[asset] = evaluation;

    /// <summary>Withdraws what <paramref name="asset"/> reported for <paramref name="version"/> (it serves another, lost its window, or went).</summary>
    public void Withdraw(ModelRef version, string asset)
    {
        if (_versions.TryGetValue(version, out Version? held))
        {
            held.Assets.TryRemove(asset, out _);
        }
    }

    private IEnumerable<Measurement<T>> Measure<T>(Func<ICollection<Evaluation>, T> read)
        where T : struct =>
        _versions.Values.Select(v => new Measurement<T>(read(v.Assets.Values), v.Tags));

    // The tags are made once per version, so the exporter recognises the series by reference.
    private sealed class Version(ModelRef model)
    {
        public KeyValuePair<string, object?>[] Tags { get; } = [new("model", model.Name), new("version", model.Version)];

        public ConcurrentDictionary<string, Evaluation> Assets { get; } = new(StringComparer.Ordinal);
    }
}
