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
internal sealed class DriftQuery(IGrainFactory grains, IDriftStore store, SiloModelCache models, SiloDriftScans scans, IOptions<GridOptions> options)
{
    /// <summary>The drift of <paramref name="asset"/> (a checked symbol).</summary>
    public Task<AssetDrift> Asset(string asset) => GrainRetry.OnRejection(() => grains.GetGrain<IAssetGrain>(asset).GetDrift());

    /// <summary>
    /// <paramref name="asset"/>'s drift window as its grain last stored it (every <c>Grid:Drift:FlushInterval</c>),
    /// evaluated against its version's reference profile, with the counts and the profile (for charts of its bins).
    /// Null when the asset's served version has no reference or no window of it is stored yet. The store answers by
    /// model name, so this reads the windows of the asset's model and keeps the asset's.
    /// </summary>
    public async Task<(AssetDrift Drift, DriftCounts Counts, ReferenceProfile Profile)?> StoredWindow(string asset)
    {
        AssetDrift now = await Asset(asset);
        if (now.Model is not { } model || await models.Profile(model) is not { } profile)
        {
            return null;
        }
        DriftCounts? counts = (await store.Read(model.Name)).FirstOrDefault(c => c.Asset == asset && c.Model.Equals(model));
        return counts is null ? null : (DriftScanner.Evaluate(counts, profile, options.Value.Drift.Alpha), counts, profile);
    }

    /// <summary>
    /// Every stored window of model <paramref name="name"/>'s versions (a checked name; null: every model), by asset,
    /// as <see cref="DriftScanner.Scan(IDriftStore, SiloModelCache, SiloDriftScans, string?, double)"/> evaluates them (on this silo's device where it has one).
    /// </summary>
    public Task<IReadOnlyList<(AssetDrift Drift, DriftCounts Counts, ReferenceProfile? Profile)>> Scan(string? name) =>
        DriftScanner.Scan(store, models, scans, name, options.Value.Drift.Alpha);

    /// <summary>The cluster-wide summary per model version of <paramref name="name"/> (null: every model).</summary>
    public async Task<IReadOnlyList<VersionDriftSummary>> Summary(string? name)
    {
        return DriftScanner.Summarize((await Scan(name)).Select(s => s.Drift));
    }
}
