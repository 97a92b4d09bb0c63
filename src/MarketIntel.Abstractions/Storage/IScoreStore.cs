using MarketIntel.Abstractions.Models;

namespace MarketIntel.Abstractions.Storage;

/// <summary>
/// Where live outcome scores are kept: each asset grain's absolute tallies, per version and per pair. A grain writes
/// what it holds now (not what changed since its last write), so a write repeated or lost on the way is harmless: the
/// next one carries everything. In memory on embedded defaults, the <c>score_outcomes</c> and <c>score_pairs</c> tables
/// in cluster mode, so scores survive a restart and other tools can read them.
/// </summary>
public interface IScoreStore
{
    /// <summary>Replaces the stored tallies of <paramref name="asset"/> for every version and pair in <paramref name="scores"/>.</summary>
    Task Save(string asset, ModelScores scores);

    /// <summary>The tallies stored for <paramref name="asset"/> (empty when none are).</summary>
    Task<ModelScores> Load(string asset);

    /// <summary>The tallies of model <paramref name="name"/>'s versions and pairs summed over every asset (cluster-wide).</summary>
    Task<ModelScores> Totals(string name);
}
