using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Training.Drift;

namespace MarketIntel.Grains.Drift;

/// <summary>
/// Evaluates stored drift windows (<see cref="DriftCounts"/>) against their versions' reference profiles, a version's
/// windows in one batch <see cref="DriftScan"/> (the statistics the asset grains compute on their live windows with
/// <see cref="DriftEvaluation"/>, up to rounding), and sums them per model version for the cluster-wide summary.
/// </summary>
public static class DriftScanner
{
    /// <summary>
    /// The series a model version's window counts, in the order the window holds them: the profile's features (the
    /// model's inputs), then the prediction where the profile has one.
    /// </summary>
    public static FeatureReference[] Series(ReferenceProfile profile) =>
        profile.Prediction is { } prediction ? [.. profile.Features, prediction] : [.. profile.Features];

    /// <summary>The window as stored for <paramref name="asset"/> and <paramref name="model"/>: each series' counts, named by its reference.</summary>
    public static DriftCounts Stored(string asset, ModelRef model, DriftWindow window)
    {
        var series = new SeriesCounts[window.SeriesCount];
        for (int s = 0; s < series.Length; s++)
        {
            series[s] = new SeriesCounts(window.Reference(s).Name, window.Counts(s).ToArray(), window.Missing(s));
        }
        return new DriftCounts(asset, model, window.Length, window.Count, series);
    }

    /// <summary>
    /// One stored window against its version's <paramref name="profile"/> (null: the version has none): as
    /// <see cref="Evaluate(IReadOnlyList{DriftCounts}, ReferenceProfile?, double, SiloDriftScans?)"/> evaluates it among others, on the CPU.
    /// </summary>
    public static AssetDrift Evaluate(DriftCounts counts, ReferenceProfile? profile, double alpha)
    {
        ArgumentNullException.ThrowIfNull(counts);
        return Evaluate([counts], profile, alpha)[0];
    }

    /// <summary>
    /// Stored windows of one model version against its <paramref name="profile"/> (null: the version has none), in one
    /// <see cref="DriftScan"/>: each window's series statistics, flagged by Benjamini-Hochberg across its series where
    /// the window is full, or the status saying why there are none (no reference, or the profile's series are not the
    /// window's). The scan's statistics equal <see cref="DriftStatistics.Compare"/>'s, which the asset grains use on
    /// their live windows, up to rounding (DriftScan's remarks). The scan runs through <paramref name="scans"/>: the
    /// silo's device where it has one; null, or a silo without one, the CPU.
    /// </summary>
    public static IReadOnlyList<AssetDrift> Evaluate(IReadOnlyList<DriftCounts> windows, ReferenceProfile? profile, double alpha, SiloDriftScans? scans = null)
    {
        ArgumentNullException.ThrowIfNull(windows);
        var evaluated = new AssetDrift[windows.Count];
        FeatureReference[] series = profile is null ? [] : Series(profile);
        var judged = new List<int>(windows.Count);
        for (int w = 0; w < windows.Count; w++)
        {
            DriftCounts window = windows[w];
            if (profile is null || !Matches(series, window.Series))
            {
                evaluated[w] = new AssetDrift(window.Asset, window.Model, profile is null ? DriftStatus.NoReference : DriftStatus.ReferenceMismatch,
                    window.Window, window.Count, [], null, DataQuality.None, null);
            }
            else
            {
                judged.Add(w);
            }
        }
        if (judged.Count == 0)
        {
            return evaluated;
        }
        var scan = new DriftScan(series);
        int assets = judged.Count;
        var counts = new int[checked(scan.Rows * assets)];
        var missing = new int[checked(series.Length * assets)];
        for (int a = 0; a < assets; a++)
        {
            IReadOnlyList<SeriesCounts> stored = windows[judged[a]].Series;
            for (int s = 0; s < series.Length; s++)
            {
                for (int b = 0; b < series[s].Bins; b++)
                {
                    counts[((scan.Row(s) + b) * assets) + a] = stored[s].Counts[b];
                }
                missing[(s * assets) + a] = stored[s].Missing;
            }
        }
        DriftScanResult result = (scans ?? SiloDriftScans.Cpu).Scan(scan, counts, missing, assets, alpha);
        bool withPrediction = profile!.Prediction is not null;
        for (int a = 0; a < assets; a++)
        {
            DriftCounts window = windows[judged[a]];
            bool full = window.Count == window.Window;
            var described = new SeriesDrift[series.Length];
            for (int s = 0; s < described.Length; s++)
            {
                FeatureDrift d = result[a, s];
                described[s] = new SeriesDrift(series[s].Name, d.Count, d.MissingRate, series[s].MissingRate, d.Psi, d.JensenShannon, d.Wasserstein,
                    d.ChiSquare, d.DegreesOfFreedom, d.PValue, full && result.Drifting[result.Index(a, s)]);
            }
            evaluated[judged[a]] = new AssetDrift(window.Asset, window.Model, full ? DriftStatus.Ok : DriftStatus.WarmingUp, window.Window, window.Count,
                withPrediction ? described[..^1] : described, withPrediction ? described[^1] : null, DataQuality.None, null);
        }
        return evaluated;
    }

    /// <summary>
    /// Every window in <paramref name="store"/> of model <paramref name="name"/>'s versions (null: every model), by asset:
    /// evaluated at <paramref name="alpha"/> (a version's windows in one scan), with the counts and the profile it was
    /// evaluated against (null when the version has none, or is gone from the registry). The cluster-wide drift of the
    /// API and the retraining watch's scan both read the store this way, scanning through the silo's
    /// <paramref name="scans"/> (its device where it has one).
    /// </summary>
    /// <exception cref="GridException"><see cref="GridErrorKind.Unavailable"/>: the store could not be read.</exception>
    public static async Task<IReadOnlyList<(AssetDrift Drift, DriftCounts Counts, ReferenceProfile? Profile)>> Scan(IDriftStore store, SiloModelCache models, SiloDriftScans scans, string? name, double alpha)
    {
        ArgumentNullException.ThrowIfNull(scans);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(models);
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
            ReferenceProfile? profile = await Profile(models, version.Key);
            IReadOnlyList<AssetDrift> evaluated = Evaluate(counts, profile, alpha, scans);
            for (int i = 0; i < counts.Length; i++)
            {
                scanned.Add((evaluated[i], counts[i], profile));
            }
        }
        return [.. scanned.OrderBy(s => s.Item1.Asset, StringComparer.Ordinal)];
    }

    // A version gone from the registry has no reference to judge its windows by any more.
    private static async Task<ReferenceProfile?> Profile(SiloModelCache models, ModelRef model)
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

    // The stored series must be the profile's, bin for bin (a window counted against another profile is not judged by this one).
    private static bool Matches(FeatureReference[] series, IReadOnlyList<SeriesCounts> stored)
    {
        if (series.Length != stored.Count)
        {
            return false;
        }
        for (int s = 0; s < series.Length; s++)
        {
            if (series[s].Name != stored[s].Name || series[s].Bins != stored[s].Counts.Count)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Per model version (ordered by name and version): how many of its assets were judged (a full window against its
    /// reference), how many of those drift, the worst PSI among them, and how often each series drifts (most often
    /// first, then by name).
    /// </summary>
    public static IReadOnlyList<VersionDriftSummary> Summarize(IEnumerable<AssetDrift> assets)
    {
        ArgumentNullException.ThrowIfNull(assets);
        var summaries = new List<VersionDriftSummary>();
        foreach (var version in assets.Where(a => a.Model is not null).GroupBy(a => a.Model!).OrderBy(g => g.Key.Name, StringComparer.Ordinal).ThenBy(g => g.Key.Version, StringComparer.Ordinal))
        {
            AssetDrift[] judged = [.. version.Where(a => a.Status == DriftStatus.Ok)];
            var series = new Dictionary<string, long>(StringComparer.Ordinal);
            double worst = double.NaN;
            foreach (AssetDrift asset in judged)
            {
                foreach (SeriesDrift s in asset.Prediction is { } p ? [.. asset.Features, p] : asset.Features)
                {
                    if (s.Drifting)
                    {
                        series[s.Name] = series.GetValueOrDefault(s.Name) + 1;
                    }
                    worst = double.IsNaN(worst) || s.Psi > worst ? s.Psi : worst;
                }
            }
            summaries.Add(new VersionDriftSummary(version.Key, judged.Length, judged.Count(a => a.Drifting), worst,
                [.. series.OrderByDescending(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal).Select(s => (s.Key, s.Value))]));
        }
        return summaries;
    }
}

/// <summary>
/// One model version's drift over the cluster's stored windows: <see cref="Assets"/> judged (a full window against
/// its reference), of which <see cref="DriftingAssets"/> drift, the <see cref="WorstPsi"/> of any of their series
/// (NaN when none), and each series with the number of those assets where it drifts, most often first.
/// </summary>
public sealed record VersionDriftSummary(ModelRef Model, long Assets, long DriftingAssets, double WorstPsi, IReadOnlyList<(string Name, long DriftingAssets)> Features);
