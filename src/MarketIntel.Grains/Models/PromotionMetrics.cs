using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MarketIntel.Abstractions.Models;

namespace MarketIntel.Grains.Models;

/// <summary>
/// The promotion decisions the model registry recorded on this silo, by model name, decision (promoted or refused, as
/// recorded: a pass the registry refused because the alias moved counts as refused) and trigger (manual: a person's
/// <c>POST /models/{name}/promote</c>; auto: the <see cref="AutoPromotionGrain"/>'s policy). The registry is one grain, so
/// the cluster's figure is the sum over silos in PromQL (it moves with the grain).
/// </summary>
public sealed class PromotionMetrics
{
    /// <summary>The meter the promotion instruments are on.</summary>
    public const string MeterName = "MarketIntel.Promotions";

    private static readonly (bool Promoted, bool Auto)[] Kinds = [(true, false), (false, false), (true, true), (false, true)];

    private readonly ConcurrentDictionary<(string Model, bool Promoted, bool Auto), Count> _decisions = new();

    /// <summary>Creates the instrument on the silo's meter factory.</summary>
    public PromotionMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        meters.Create(MeterName).CreateObservableCounter("marketintel_promotion_decisions_total", () => _decisions.Values.Select(c => c.Measure()),
            unit: null, "Promotion decisions the model registry recorded, by model name, decision (promoted, refused) and trigger (manual, auto)");
    }

    /// <summary>
    /// Publishes model <paramref name="name"/>'s series at 0 (a name the registry holds), so that rate() and increase()
    /// count its first decision: a counter series that first appears at 1 is read as having been 1 all along.
    /// </summary>
    public void Known(string name)
    {
        foreach ((bool promoted, bool auto) in Kinds)
        {
            _decisions.GetOrAdd((name, promoted, auto), static key => new Count(key));
        }
    }

    /// <summary>Counts <paramref name="decision"/>, as recorded, for <paramref name="client"/>.</summary>
    public void Decided(PromotionDecision decision, string client)
    {
        ArgumentNullException.ThrowIfNull(decision);
        Count count = _decisions.GetOrAdd((decision.Name, decision.Promoted, client == AutoPromotionGrain.Client), static key => new Count(key));
        Interlocked.Increment(ref count.Value);
    }

    // The tags are made once per series, so the exporter recognises the series by reference.
    private sealed class Count((string Model, bool Promoted, bool Auto) key)
    {
        private readonly KeyValuePair<string, object?>[] _tags =
            [new("model", key.Model), new("decision", key.Promoted ? "promoted" : "refused"), new("trigger", key.Auto ? "auto" : "manual")];

        public long Value;

        public Measurement<long> Measure() => new(Interlocked.Read(ref Value), _tags);
    }
}
