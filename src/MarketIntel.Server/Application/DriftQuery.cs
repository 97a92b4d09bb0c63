using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains;
using MarketIntel.Grains.Drift;
using MarketIntel.Training.Drift;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Application;

/// <summary>
/// Drift for both APIs: one asset's from its grain (as it stands now), and the cluster's from the
/// <see cref="IDriftStore"/> (every asset's window as its grain last wrote it), each window evaluated against its
/// version's reference profile by <see cref="DriftScanner"/>.
/// </summary>
internal sealed class DriftQuery(IGrainFactory grains, IDriftStore store, SiloModelCache models, IOptions<GridOptions> options)
{
    /// <summary>The drift of <paramref name="asset"/> (a checked symbol).</summary>
    public Task<AssetDrift> Asset(string asset) => GrainRetry.OnRejection(() => grains.GetGrain<IAssetGrain>(asset).GetDrift());

    /// <summary>
    /// Every stored window of model <paramref name="name"/>'s versions (a checked name; null: every model), by asset:
    /// evaluated (a version's windows in one scan), with the counts and the profile it was evaluated against (null when
    /// the version has none).
    /// </summary>
    public async Task<IReadOnlyList<(AssetDrift Drift, DriftCounts Counts, ReferenceProfile? Profile)>> Scan(string? name)
    {
        IReadOnlyList<DriftCounts> windows;
        try
        {
            windows = await store.Read(name);
        }
        catch (Exception e) when (e is not GridException and not OperationCanceledException)
        {
            throw GridException.Unavailable("the drift windows could not be read", e);
        }
        var scanned = new List<(AssetDrift, DriftCounts, ReferenceProfile?)>(windows.Count);
        foreach (var version in windows.GroupBy(w => w.Model))
        {
            DriftCounts[] counts = [.. version];
            ReferenceProfile? profile = await Profile(version.Key);
            IReadOnlyList<AssetDrift> evaluated = DriftScanner.Evaluate(counts, profile, options.Value.Drift.Alpha);
            for (int i = 0; i < counts.Length; i++)
            {
                scanned.Add((evaluated[i], counts[i], profile));
            }
        }
        return [.. scanned.OrderBy(s => s.Item1.Asset, StringComparer.Ordinal)];
    }

    // A version gone from the registry has no reference to judge its windows by any more.
    private async Task<ReferenceProfile?> Profile(ModelRef model)
    {
        try
        {
            return await models.Profile(model);
        }
        catch (GridException e) when (e.Kind == GridErrorKind.NotFound)
        {
            return null;
        }
    }

    /// <summary>The cluster-wide summary per model version of <paramref name="name"/> (null: every model).</summary>
    public async Task<IReadOnlyList<VersionDriftSummary>> Summary(string? name)
    {
        return DriftScanner.Summarize((await Scan(name)).Select(s => s.Drift));
    }
}
