using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Training.Drift;

namespace MarketIntel.Grains.Drift;

/// <summary>
/// Evaluates stored drift windows (<see cref="DriftCounts"/>) against their versions' reference profiles, asset by
/// asset, exactly as the asset grains evaluate their live windows (<see cref="DriftEvaluation"/>), and sums them per
/// model version for the cluster-wide summary.
/// </summary>
public static class DriftScanner
{
    /// <summary>
    /// The series a model version's window counts, in the order the window holds them: the profile's features (the
    /// model's inputs), then the prediction where the profile has one.
    /// </summary>
    public static FeatureReference[] Series(ReferenceProfile profile) =>
        profile.Prediction is { } prediction ? [.. profile.Features, prediction] : [.. profile.Features];

    /// <summary>
    /// One stored window against its version's <paramref name="profile"/> (null: the version has none): its series'
    /// statistics and flags, or the status saying why there are none (the profile's series are not the window's).
    /// </summary>
    public static AssetDrift Evaluate(DriftCounts counts, ReferenceProfile? profile, double alpha)
    {
        ArgumentNullException.ThrowIfNull(counts);
        DataQuality quality = DataQuality.None;
        if (profile is null)
        {
            return new AssetDrift(counts.Asset, counts.Model, DriftStatus.NoReference, counts.Window, counts.Count, [], null, quality, null);
        }
        FeatureReference[] series = Series(profile);
        if (!Matches(series, counts.Series))
        {
            return new AssetDrift(counts.Asset, counts.Model, DriftStatus.ReferenceMismatch, counts.Window, counts.Count, [], null, quality, null);
        }
        bool full = counts.Count == counts.Window;
        int[][] live = [.. counts.Series.Select(s => s.Counts.ToArray())];
        SeriesDrift[] described = DriftEvaluation.Describe(series, (int s, out int missing) =>
        {
            missing = counts.Series[s].Missing;
            return live[s];
        }, alpha, full);
        bool withPrediction = profile.Prediction is not null;
        return new AssetDrift(counts.Asset, counts.Model, full ? DriftStatus.Ok : DriftStatus.WarmingUp, counts.Window, counts.Count,
            withPrediction ? described[..^1] : described, withPrediction ? described[^1] : null, quality, null);
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
