using System.Collections.Concurrent;
using MarketIntel.Features;

namespace MarketIntel.Grains;

/// <summary>
/// Parsed feature specs shared by every grain on a silo. A <see cref="FeatureSet"/> is immutable, and a silo sees
/// only a handful of distinct specs (the configured one, extended by each model's inputs), so parsing once per spec
/// instead of once per activation saves both time and several kilobytes per asset.
/// </summary>
public sealed class FeatureSpecCache
{
    private readonly ConcurrentDictionary<string, FeatureSet> _specs = new(StringComparer.Ordinal);

    public FeatureSpecCache() => Parser = Get;

    /// <summary>The parsed spec; throws <see cref="FeatureSpecException"/> for a bad one (which is not cached).</summary>
    public FeatureSet Get(string spec) => _specs.GetOrAdd(spec, FeatureSet.Parse);

    /// <summary><see cref="Get"/> as one delegate for the whole silo, rather than one per asset that takes it.</summary>
    public Func<string, FeatureSet> Parser { get; }
}
