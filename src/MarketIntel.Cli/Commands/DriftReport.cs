using System.Globalization;
using System.Text;
using MarketIntel.Api.V1;

namespace MarketIntel.Cli.Commands;

/// <summary>The files of a drift report: report.md, heatmap.svg, one histogram per worst offender, drift.csv.</summary>
internal static class DriftReport
{
    /// <summary>What the summary says when no asset was judged.</summary>
    public const string NothingJudged = "no asset has a served version with a reference profile and a full window yet";

    /// <summary>The summary as aligned text rows (a header, then a row per model version).</summary>
    public static IEnumerable<string> SummaryTable(DriftSummary summary)
    {
        string[] header = ["model", "version", "assets", "drifting", "worstPsi", "features drifting most often"];
        var rows = new List<string[]> { header };
        rows.AddRange(summary.Versions.Select(v => new[]
        {
            v.Model, v.Version, Text(v.Assets), Text(v.DriftingAssets), Text(v.WorstPsi),
            string.Join(", ", v.Features.Take(5).Select(f => $"{f.Name} ({Text(f.DriftingAssets)})")),
        }));
        int[] widths = [.. Enumerable.Range(0, header.Length).Select(c => rows.Max(r => r[c].Length))];
        return rows.Select(row => string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
    }

    /// <summary>
    /// The (asset, feature) pairs shown as histograms: the drifting ones with the highest PSI first, then, if fewer
    /// than <paramref name="count"/> drift, the highest PSI of the rest.
    /// </summary>
    public static List<(AssetDrift Asset, FeatureDrift Feature)> Offenders(IReadOnlyList<AssetDrift> scan, int count) =>
        [.. scan.SelectMany(a => a.Features.Where(f => double.IsFinite(f.Psi) && f.LiveCounts.Count > 0).Select(f => (Asset: a, Feature: f)))
            .OrderByDescending(p => p.Feature.Drifting).ThenByDescending(p => p.Feature.Psi).ThenBy(p => p.Asset.Asset, StringComparer.Ordinal)
            .Take(count)];

    /// <summary>
    /// Writes the report into <paramref name="folder"/>; returns how many histograms it drew. <paramref name="scanned"/> opens
    /// it: what was scanned, where and when, ending on the windows and the profile compared (a grid's, or bar files scanned here).
    /// </summary>
    public static int Write(string folder, string scanned, DriftSummary summary, IReadOnlyList<AssetDrift> scan, int heatmapAssets, int worst)
    {
        // Everything is drawn before anything is written: a failure leaves no half report.
        var files = new List<(string File, string Text)>();
        var md = new StringBuilder();
        md.AppendLine("# Drift report").AppendLine();
        md.AppendLine(scanned + "; a feature drifts when its chi-square test is rejected by Benjamini-Hochberg across the asset's features (see docs/drift.md).").AppendLine();
        md.AppendLine("## Summary per model version").AppendLine().AppendLine("```");
        foreach (string line in summary.Versions.Count == 0 ? [NothingJudged] : SummaryTable(summary))
        {
            md.AppendLine(line);
        }
        md.AppendLine("```").AppendLine();
        var measured = scan.Where(a => a.Features.Count > 0).ToList();
        if (measured.Count > 0)
        {
            // The assets with the most drifting features (then the highest PSI) make the heatmap's rows; the features
            // are the union of theirs, in the order the first asset's model lists them.
            var rows = measured.OrderByDescending(a => a.Features.Count(f => f.Drifting)).ThenByDescending(a => a.Features.Max(f => double.IsFinite(f.Psi) ? f.Psi : 0))
                .ThenBy(a => a.Asset, StringComparer.Ordinal).Take(heatmapAssets).ToList();
            var features = rows.SelectMany(a => a.Features.Select(f => f.Name)).Distinct(StringComparer.Ordinal).ToList();
            var psi = new double[rows.Count, features.Count];
            for (int r = 0; r < rows.Count; r++)
            {
                for (int c = 0; c < features.Count; c++)
                {
                    psi[r, c] = rows[r].Features.FirstOrDefault(f => f.Name == features[c])?.Psi ?? double.NaN;
                }
            }
            files.Add(("heatmap.svg", DriftPlots.Heatmap($"PSI by asset and feature ({rows.Count} of {measured.Count} assets)", [.. rows.Select(a => a.Asset)], features, psi)));
            md.AppendLine("## Heatmap").AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"The {rows.Count} assets with the most drifting features (of {measured.Count} measured), by feature; colour: PSI.").AppendLine();
            md.AppendLine("![PSI by asset and feature](heatmap.svg)").AppendLine();
        }
        var offenders = Offenders(scan, worst);
        if (offenders.Count > 0)
        {
            md.AppendLine("## Worst offenders").AppendLine();
            for (int i = 0; i < offenders.Count; i++)
            {
                var (asset, feature) = offenders[i];
                string file = $"histogram-{i + 1}.svg";
                files.Add((file, MarketIntel.Server.WebConsole.DriftHistogram.Svg($"{asset.Asset} {feature.Name} ({asset.Model} {asset.Version})", feature)));
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"{i + 1}. `{asset.Asset}` `{feature.Name}`: PSI {Text(feature.Psi)}, JS {Text(feature.Js)}, Wasserstein {Text(feature.Wasserstein)}, p {PValue(feature.PValue)}{(feature.Drifting ? ", drifting" : "")}");
                md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"   ![{asset.Asset} {feature.Name}]({file})").AppendLine();
            }
        }
        md.AppendLine("Every asset and feature: [drift.csv](drift.csv).");
        files.Add(("drift.csv", Csv(scan)));
        files.Add(("report.md", md.ToString()));
        Directory.CreateDirectory(folder);
        foreach (var (file, text) in files)
        {
            File.WriteAllText(Path.Combine(folder, file), text);
        }
        return offenders.Count;
    }

    private static string Csv(IReadOnlyList<AssetDrift> scan)
    {
        var csv = new StringBuilder("asset,model,version,status,window,count,feature,psi,js,wasserstein,chi_square,degrees_of_freedom,p_value,drifting,missing_rate\n");
        foreach (AssetDrift asset in scan)
        {
            foreach (FeatureDrift f in asset.Features)
            {
                csv.AppendLine(string.Join(',', asset.Asset, asset.Model, asset.Version, asset.Status, Text(asset.Window), Text(asset.Count), f.Name,
                    Cell(f.Psi), Cell(f.Js), Cell(f.Wasserstein), Cell(f.ChiSquare), Text(f.DegreesOfFreedom), Cell(f.PValue), f.Drifting ? "true" : "false", Cell(f.MissingRate)));
            }
        }
        return csv.ToString();
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(double value) => double.IsFinite(value) ? value.ToString("0.####", CultureInfo.InvariantCulture) : "-";

    // p-values run far below 0.0001: three significant digits.
    private static string PValue(double value) => double.IsFinite(value) ? value.ToString("G3", CultureInfo.InvariantCulture) : "-";

    // Empty where there is no number, as the feature-matrix CSV writes a missing value.
    private static string Cell(double value) => double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : "";
}
