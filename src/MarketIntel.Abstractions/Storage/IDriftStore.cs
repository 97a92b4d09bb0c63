using MarketIntel.Abstractions.Models;

namespace MarketIntel.Abstractions.Storage;

/// <summary>
/// Where asset grains keep their drift windows' counts (one window per asset, for its served version), so that the
/// cluster-wide summary and the batch scan can evaluate every asset without calling each grain. A grain writes its
/// whole window (absolute counts), so a write repeated or lost on the way is harmless. In memory on embedded
/// defaults, the <c>drift_windows</c> table in cluster mode.
/// </summary>
public interface IDriftStore
{
    /// <summary>Replaces the stored window of <paramref name="counts"/>' asset (whatever version it counted before).</summary>
    Task Save(DriftCounts counts);

    /// <summary>Every stored window, of model <paramref name="name"/>'s versions only unless it is null, ordered by asset.</summary>
    Task<IReadOnlyList<DriftCounts>> Read(string? name);
}
