using System.Globalization;
using MarketIntel.Api.V1;
using MarketIntel.CommandLine;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel drift</c>: a running grid's drift, over gRPC or HTTP/JSON as <c>--target</c>'s scheme says
/// (<see cref="DriftClient"/>). It prints the cluster-wide summary per model version;
/// with <c>--report DIR</c> it also runs the batch scan of every asset and writes a Markdown report there: the
/// summary, a heatmap of the PSI over assets and features, the worst offenders' histograms against their reference,
/// and every asset x feature's statistics as CSV. Nothing is written unless the whole scan arrived.
/// </summary>
internal static class DriftCommand
{
    public const string Usage =
        "marketintel drift --target grpc[s]://HOST:PORT|http[s]://HOST:PORT [--name MODEL] [--report DIR] [--heatmap-assets 60] [--worst 6] [--api-key KEY] [--tls-ca CA.pem]";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var options = CliArguments.Parse(args, ["target", "name", "report", "heatmap-assets", "worst", "api-key", "tls-ca"]);
        string target = options.Required("target");
        string name = options.Optional("name") ?? "";
        string? report = options.Optional("report");
        int heatmapAssets = options.OptionalInt("heatmap-assets", 1, 1000) ?? 60;
        int worst = options.OptionalInt("worst", 0, 100) ?? 6;
        if (report is not null && File.Exists(report))
        {
            throw new UsageException($"--report '{report}' is a file, not a folder");
        }
        var (summary, scan) = Read(target, name, report is not null, options).GetAwaiter().GetResult();
        WriteSummary(stdout, summary);
        if (report is not null)
        {
            int histograms = DriftReport.Write(report, target, name, summary, scan, heatmapAssets, worst);
            stdout.WriteLine($"wrote {Path.Combine(report, "report.md")} with heatmap.svg, {histograms} histograms and drift.csv ({scan.Count} assets)");
        }
        return 0;
    }

    private static async Task<(DriftSummary Summary, List<AssetDrift> Scan)> Read(string target, string name, bool scan, CliArguments options)
    {
        using IDriftClient client = DriftClient.For(target, options);
        return await client.ReadAsync(name, scan);
    }

    private static void WriteSummary(TextWriter stdout, DriftSummary summary)
    {
        if (summary.Versions.Count == 0)
        {
            stdout.WriteLine("no asset has a served version with a reference profile and a full window yet");
            return;
        }
        foreach (string line in DriftReport.SummaryTable(summary))
        {
            stdout.WriteLine(line);
        }
    }
}
