using MarketIntel.CommandLine;
using MarketIntel.Features;
using MarketIntel.Features.Io;

namespace MarketIntel.Cli.Commands;

/// <summary><c>marketintel features --input BARS.csv --spec SPEC --output OUT.csv [--close COLUMN]</c>.</summary>
internal static class FeaturesCommand
{
    public const string Usage = "marketintel features --input BARS.csv --spec \"sma_20,rsi_14,...\" --output OUT.csv [--close COLUMN]";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var options = CliArguments.Parse(args, ["input", "spec", "output", "close"]);
        string input = options.Required("input");
        string specText = options.Required("spec");
        string output = options.Required("output");

        // Everything is validated before anything is written: a bad spec or bad bar leaves no output file.
        var spec = FeatureSet.Parse(specText);
        var bars = BarCsv.Read(input, options.Optional("close"));
        double[][] columns = spec.Compute(bars, parallel: true);
        FeatureCsv.Write(output, bars.Timestamps, spec.Names.ToArray(), columns);
        stdout.WriteLine($"wrote {bars.Count} rows x {spec.Count} features to {output}");
        return 0;
    }
}
