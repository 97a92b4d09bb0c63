using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;

namespace MarketIntel.Grains;

/// <summary>
/// The drift store on embedded defaults: the silo's memory, one window per asset, so the summary reads every asset's
/// last written window without calling the grains. The records are immutable, so what is held is what was written.
/// </summary>
public sealed class InMemoryDriftStore : IDriftStore
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, DriftCounts> _windows = new(StringComparer.Ordinal);

    public Task Save(DriftCounts counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        counts.Check();
        // A copy of the count lists: a caller's list changed later never reaches the store.
        DriftCounts copy = counts with { Series = [.. counts.Series.Select(s => s with { Counts = [.. s.Counts] })] };
        lock (_lock)
        {
            _windows[counts.Asset] = copy;
        }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<DriftCounts>> Read(string? name)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<DriftCounts>>([.. _windows.Values.Where(w => name is null || w.Model.Name == name)]);
        }
    }
}
