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
    /// evaluated, with the counts and the profile it was evaluated against (null when the version has none).
    /// </summary>
    public async IAsyncEnumerable<(AssetDrift Drift, DriftCounts Counts, ReferenceProfile? Profile)> Scan(string? name)
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
        var profiles = new Dictionary<ModelRef, ReferenceProfile?>();
        foreach (DriftCounts window in windows)
        {
            if (!profiles.TryGetValue(window.Model, out ReferenceProfile? profile))
            {
                profile = await Profile(window.Model);
                profiles.Add(window.Model, profile);
            }
            yield return (DriftScanner.Evaluate(window, profile, options.Value.Drift.Alpha), window, profile);
        }
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
        var assets = new List<AssetDrift>();
        await foreach (var (asset, _, _) in Scan(name))
        {
            assets.Add(asset);
        }
        return DriftScanner.Summarize(assets);
    }
}
