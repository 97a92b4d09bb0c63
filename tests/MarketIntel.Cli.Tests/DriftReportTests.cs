using System.Globalization;
using System.Xml.Linq;
using MarketIntel.Api.V1;
using MarketIntel.Cli.Commands;

namespace MarketIntel.Cli.Tests;

/// <summary>
/// The drift report <c>marketintel drift --report</c> writes, from a scan as the grid streams it: which pairs it shows,
/// what its plots and CSV hold. (The command against a running grid is tested with the drift API.)
/// </summary>
public sealed class DriftReportTests : CliTestBase
{
    private static AssetDrift Asset(string symbol, params (string Name, double Psi, bool Drifting)[] features)
    {
        var asset = new AssetDrift { Asset = symbol, Model = "direction", Version = "v1", Status = "ok", Window = 500, Count = 500 };
        foreach (var (name, psi, drifting) in features)
        {
            var feature = new FeatureDrift { Name = name, Count = 500, Psi = psi, Js = psi / 2, Wasserstein = psi * 3, ChiSquare = 10, DegreesOfFreedom = 3, PValue = drifting ? 1e-9 : 0.4, Drifting = drifting };
            feature.Edges.AddRange([1f, 2f, 3f]);
            feature.ReferenceCounts.AddRange([25, 25, 25, 25]);
            feature.LiveCounts.AddRange(drifting ? [5, 10, 35, 450] : [120, 130, 125, 125]);
            asset.Features.Add(feature);
        }
        return asset;
    }

    private static readonly AssetDrift[] Scan =
    [
        Asset("AAA", ("rsi_14", 0.02, false), ("sma_20", 0.9, true)),
        Asset("BBB", ("rsi_14", 0.03, false), ("sma_20", 0.01, false)),
        Asset("CCC", ("rsi_14", 0.4, true), ("sma_20", 0.2, false)),
        new AssetDrift { Asset = "DDD", Model = "direction", Version = "v1", Status = "no-reference", Window = 500 },
    ];

    [Fact]
    public void Worst_offenders_are_the_drifting_pairs_by_psi_then_the_highest_psi_of_the_rest()
    {
        var offenders = DriftReport.Offenders(Scan, 3);
        Assert.Equal(["AAA sma_20", "CCC rsi_14", "CCC sma_20"], offenders.Select(o => $"{o.Asset.Asset} {o.Feature.Name}"));
    }

    [Fact]
    public void The_report_holds_the_summary_a_heatmap_of_the_measured_assets_the_histograms_and_every_pair_as_csv()
    {
        var summary = new DriftSummary();
        summary.Versions.Add(new VersionDrift { Model = "direction", Version = "v1", Assets = 3, DriftingAssets = 2, WorstPsi = 0.9, Features = { new FeatureDriftCount { Name = "sma_20", DriftingAssets = 1 } } });
        string folder = Path.Combine(Dir, "report");

        int histograms = DriftReport.Write(folder, "Grid `grpc://localhost:1`, model `direction`", summary, Scan, heatmapAssets: 2, worst: 2);
        Assert.Equal(2, histograms);

        string md = File.ReadAllText(Path.Combine(folder, "report.md"));
        Assert.Contains("direction  v1       3       2         0.9       sma_20 (1)", md, StringComparison.Ordinal);
        Assert.Contains("The 2 assets with the most drifting features (of 3 measured)", md, StringComparison.Ordinal);
        Assert.Contains("1. `AAA` `sma_20`: PSI 0.9", md, StringComparison.Ordinal);
        Assert.Contains("2. `CCC` `rsi_14`: PSI 0.4", md, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(folder, "histogram-3.svg")));

        // The heatmap's rows are the two assets with a drifting feature (DDD has no reference, BBB drifts nowhere).
        string[] heatmapTexts = Texts(Path.Combine(folder, "heatmap.svg"));
        Assert.Contains("AAA", heatmapTexts);
        Assert.Contains("CCC", heatmapTexts);
        Assert.DoesNotContain("BBB", heatmapTexts);
        Assert.Contains("sma_20", heatmapTexts);

        // A histogram labels its bins by their lower edges and shows both distributions.
        string[] histogram = Texts(Path.Combine(folder, "histogram-1.svg"));
        Assert.Contains("< 1", histogram);
        Assert.Contains(">= 3", histogram);
        Assert.Contains("reference", histogram);
        Assert.Contains("live window", histogram);

        string[] csv = File.ReadAllLines(Path.Combine(folder, "drift.csv"));
        Assert.Equal(1 + 6, csv.Length);  // a row per asset and feature measured; DDD has none
        string[] aaa = csv.Single(l => l.StartsWith("AAA,direction,v1,ok,500,500,sma_20,", StringComparison.Ordinal)).Split(',');
        Assert.Equal(0.9, double.Parse(aaa[7], CultureInfo.InvariantCulture));
        Assert.Equal("true", aaa[13]);
    }

    [Fact]
    public void An_http_target_nobody_answers_is_one_line_naming_it_and_exits_2()
    {
        var (code, _, err) = Run("drift", "--target", "http://localhost:1");
        Assert.Equal(2, code);
        Assert.StartsWith("marketintel drift: http://localhost:1: ", err, StringComparison.Ordinal);
        Assert.Single(err.TrimEnd().Split('\n'));
    }

    private static string[] Texts(string svg) => [.. XDocument.Load(svg).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim())];
}
