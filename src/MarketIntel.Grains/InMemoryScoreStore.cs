using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;

namespace MarketIntel.Grains;

/// <summary>
/// The score store on embedded defaults: the silo's memory, so scores outlive an asset grain's activation but not the
/// process. It keeps copies, so the tallies a grain goes on adding to never reach it between writes.
/// </summary>
public sealed class InMemoryScoreStore : IScoreStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Dictionary<string, OutcomeTally>> _versions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, PairTally>> _pairs = new(StringComparer.Ordinal);

    public Task Save(string asset, ModelScores scores)
    {
        ArgumentNullException.ThrowIfNull(asset);
        ArgumentNullException.ThrowIfNull(scores);
        ModelScores copy = scores.Copy();
        lock (_lock)
        {
            foreach (OutcomeTally tally in copy.Versions)
            {
                Of(_versions, asset)[tally.Model.ToString()] = tally;
            }
            foreach (PairTally tally in copy.Pairs)
            {
                Of(_pairs, asset)[tally.Champion + " " + tally.Challenger] = tally;
            }
        }
        return Task.CompletedTask;
    }

    private static Dictionary<string, T> Of<T>(Dictionary<string, Dictionary<string, T>> byAsset, string asset)
    {
        if (!byAsset.TryGetValue(asset, out Dictionary<string, T>? held))
        {
            held = new Dictionary<string, T>(StringComparer.Ordinal);
            byAsset.Add(asset, held);
        }
        return held;
    }

    public Task<ModelScores> Load(string asset)
    {
        ArgumentNullException.ThrowIfNull(asset);
        lock (_lock)
        {
            return Task.FromResult(new ModelScores(
                [.. _versions.GetValueOrDefault(asset)?.Values.Select(ModelScores.Copy) ?? []],
                [.. _pairs.GetValueOrDefault(asset)?.Values.Select(ModelScores.Copy) ?? []]));
        }
    }

    public Task<ModelScores> Totals(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            var parts = _versions.Values.SelectMany(v => v.Values).Where(t => t.Model.Name == name)
                .Select(t => new ModelScores([t], []))
                .Concat(_pairs.Values.SelectMany(p => p.Values).Where(t => t.Champion.Name == name).Select(t => new ModelScores([], [t])));
            return Task.FromResult(ModelScores.Sum(parts));
        }
    }
}
