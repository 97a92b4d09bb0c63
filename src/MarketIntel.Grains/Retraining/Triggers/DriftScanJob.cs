using System.Globalization;
using System.Text;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains.Drift;

namespace MarketIntel.Grains.Retraining.Triggers;

/// <summary>
/// The scheduled drift scan: every stored drift window evaluated against its version's reference profile, as the
/// API's cluster-wide drift evaluates it (<see cref="DriftScanner.Scan"/>), then per model name the assets that drift.
/// </summary>
internal static class DriftScanJob
{
    /// <summary>The most drifting assets a request's reason names one by one (the rest are counted).</summary>
    public const int NamedAssets = 20;

    /// <summary>Per model name (scanned through the worker's <paramref name="scans"/>, its device where it has one): its assets judged (a full window against a reference) and those of them that drift, by asset.</summary>
    public static async Task<IReadOnlyDictionary<string, DriftFinding>> Scan(IDriftStore store, SiloModelCache models, SiloDriftScans scans, double alpha)
    {
        var scanned = await DriftScanner.Scan(store, models, scans, null, alpha);
        return scanned
            .Select(s => s.Drift)
            .Where(d => d.Model is not null && d.Status == DriftStatus.Ok)
            .GroupBy(d => d.Model!.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => new DriftFinding(g.Count(), [.. g.Where(d => d.Drifting)]), StringComparer.Ordinal);
    }

    /// <summary>
    /// The Drift request for model <paramref name="name"/> when at least <paramref name="atLeast"/> of its assets drift
    /// (else null); its reason names them with their versions, drifting series and worst PSI.
    /// </summary>
    public static RetrainRequest? Request(string name, DriftFinding finding, int atLeast, string client)
    {
        if (finding.Drifting.Count < atLeast || finding.Drifting.Count == 0)
        {
            return null;
        }
        var reason = new StringBuilder();
        reason.Append(CultureInfo.InvariantCulture, $"drift scan: {finding.Drifting.Count} of {finding.Judged} assets drifting (at least {atLeast} asked for a job): ");
        foreach (AssetDrift asset in finding.Drifting.Take(NamedAssets))
        {
            SeriesDrift[] flagged = [.. asset.Features.Where(f => f.Drifting), .. asset.Prediction is { Drifting: true } p ? [p] : Array.Empty<SeriesDrift>()];
            double worst = flagged.Max(s => s.Psi);
            reason.Append(CultureInfo.InvariantCulture, $"{asset.Asset} on {asset.Model!.Version} ({string.Join(", ", flagged.Select(s => s.Name))}; worst PSI {worst:0.###}), ");
        }
        reason.Length -= 2;
        if (finding.Drifting.Count > NamedAssets)
        {
            reason.Append(CultureInfo.InvariantCulture, $" and {finding.Drifting.Count - NamedAssets} more");
        }
        return new RetrainRequest(name, RetrainTrigger.Drift, reason.ToString(), client) { TriggerAssets = [.. finding.Drifting.Select(d => d.Asset)] };
    }
}

/// <summary>A model name's assets judged by the drift scan, and those of them that drift (ordered by asset).</summary>
internal sealed record DriftFinding(int Judged, IReadOnlyList<AssetDrift> Drifting);
