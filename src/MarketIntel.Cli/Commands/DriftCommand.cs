using System.Globalization;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel drift</c>: drift per model version, either a running grid's (<c>--target</c>: its assets' stored
/// windows, over gRPC or HTTP/JSON as the scheme says, <see cref="DriftClient"/>; the grid's silos scan on their own
/// devices) or scanned here from bar files against a model's reference profile (<c>--model</c> with <c>--data</c>:
/// <see cref="DriftLocalScan"/>, on the device <c>--device</c> opens). Either way it prints the summary per model
/// version; with <c>--report DIR</c> it also writes a Markdown report there from every asset's scan: the summary, a
/// heatmap of the PSI over assets and features, the worst offenders' histograms against their reference, and every
/// asset x feature's statistics as CSV. Nothing is written unless the whole scan arrived.
/// </summary>
internal static class DriftCommand
{
    public const string Usage =
        "marketintel drift --target grpc[s]://HOST:PORT|http[s]://HOST:PORT [--name MODEL] [--api-key KEY] [--tls-ca CA.pem] [--report DIR] [--heatmap-assets 60] [--worst 6]\n"
        + "       marketintel drift --model MODEL.json [--lineage MODEL.json.lineage.json] --data BARS.csv|DIR [--close COLUMN] [--window 500] " + DeviceOption.Usage + " [--report DIR] [--heatmap-assets 60] [--worst 6]";

    /// <summary>What <c>drift --help</c> adds under the usage lines.</summary>
    public const string Details = "  --target: a running grid's drift (its assets' stored windows), scanned by its silos on their own devices;"
        + "\n  --model: the scan done here on bar files (a folder: each .csv file an asset named by the file), each asset's last --window bars"
        + "\n  of the model's inputs and prediction against the reference profile in the model's lineage, as a grid serving the model would count them;"
        + "\n  --device: that scan on a CUDA device (auto: when one is present) or ILGPU's CPU accelerator (cpu), else the CPU paths";

    // The options of a grid's drift alone.
    private static readonly string[] GridOptions = ["target", "name", "api-key", "tls-ca"];

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var options = CliArguments.Parse(args, [.. GridOptions, .. DriftLocalScan.Options, "report", "heatmap-assets", "worst"]);
        string? target = options.Optional("target");
        bool local = options.Optional("model") is not null;
        if ((target is not null) == local)
        {
            throw new UsageException(local
                ? "give --target (a running grid's drift) or --model (a scan of bar files here), not both"
                : "give --target URL for a running grid's drift, or --model MODEL.json with --data BARS for a scan of bar files here");
        }
        if (target is not null && options.Optional(DeviceOption.Name) is not null)
        {
            throw new UsageException("--device does not go with --target: the grid's silos choose their device (serve --device); --device is for --model's scan here");
        }
        string[] misplaced = [.. (local ? GridOptions : DriftLocalScan.Options).Where(o => options.Optional(o) is not null)];
        if (misplaced.Length > 0)
        {
            throw new UsageException($"--{misplaced[0]} does not go with {(local ? "--model" : "--target")}");
        }
        string? report = options.Optional("report");
        int heatmapAssets = options.OptionalInt("heatmap-assets", 1, 1000) ?? 60;
        int worst = options.OptionalInt("worst", 0, 100) ?? 6;
        if (report is not null && File.Exists(report))
        {
            throw new UsageException($"--report '{report}' is a file, not a folder");
        }
        var (summary, scan, scanned) = target is null ? DriftLocalScan.Run(options, stdout) : Read(target, options.Optional("name") ?? "", report is not null, options);
        WriteSummary(stdout, summary);
        if (report is not null)
        {
            int histograms = DriftReport.Write(report, scanned, summary, scan, heatmapAssets, worst);
            stdout.WriteLine($"wrote {Path.Combine(report, "report.md")} with heatmap.svg, {histograms} histograms and drift.csv ({scan.Count} assets)");
        }
        return 0;
    }

    private static (DriftSummary Summary, List<AssetDrift> Scan, string Scanned) Read(string target, string name, bool scan, CliArguments options)
    {
        var (summary, assets) = ReadGrid(target, name, scan, options).GetAwaiter().GetResult();
        string scanned = string.Create(CultureInfo.InvariantCulture,
            $"Grid `{target}`, {(name.Length == 0 ? "every model" : $"model `{name}`")}, read {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss} UTC. ")
            + "Each asset's served version's inputs over its last window of bars against the version's reference profile";
        return (summary, assets, scanned);
    }

    private static async Task<(DriftSummary Summary, List<AssetDrift> Scan)> ReadGrid(string target, string name, bool scan, CliArguments options)
    {
        using IDriftClient client = DriftClient.For(target, options);
        return await client.ReadAsync(name, scan);
    }

    private static void WriteSummary(TextWriter stdout, DriftSummary summary)
    {
        if (summary.Versions.Count == 0)
        {
            stdout.WriteLine(DriftReport.NothingJudged);
            return;
        }
        foreach (string line in DriftReport.SummaryTable(summary))
        {
            stdout.WriteLine(line);
        }
    }
}
