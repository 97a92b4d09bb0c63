using MarketIntel.CommandLine;
using MarketIntel.Features;
using MarketIntel.Features.Io;

namespace MarketIntel.Cli.Commands;

/// <summary><c>marketintel features --input BARS.csv --spec SPEC --output OUT.csv [--close COLUMN] [--label up_K|logret_K ...]</c>.</summary>
internal static class FeaturesCommand
{
    public const string Usage = "marketintel features --input BARS.csv --spec \"sma_20,rsi_14,...\" --output OUT.csv [--close COLUMN] [--label up_K|logret_K ...]";

    /// <summary>What <c>features --help</c> adds under the usage line.</summary>
    public const string Details = "  --label (repeatable) adds a label column after the features: up_K = 1 when the close K bars later is higher, else 0;"
        + "\n  logret_K = ln(close[t+K]/close[t]); empty on the last K rows, where the bar K ahead is not in the file";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var options = CliArguments.Parse(args, ["input", "spec", "output", "close"], repeatable: ["label"]);
        string input = options.Required("input");
        string specText = options.Required("spec");
        string output = options.Required("output");

        // Everything is validated before anything is written: a bad spec, label or bar leaves no output file.
        var spec = FeatureSet.Parse(specText);
        LabelDefinition[] labels = options.All("label").Select(LabelDefinition.Parse).ToArray();
        var names = spec.Names.ToList();
        foreach (LabelDefinition label in labels)
        {
            if (spec.Names.Contains(label.Name))
            {
                // logret_K names both the past log return (a feature) and the future one (a label).
                throw new UsageException($"--label {label.Name}: the spec has a feature of that name, and one file cannot hold both columns");
            }
            if (names.Contains(label.Name))
            {
                throw new UsageException($"--label {label.Name}: given twice");
            }
            names.Add(label.Name);
        }
        var bars = BarCsv.Read(input, options.Optional("close"));
        var columns = spec.Compute(bars, parallel: true).ToList();
        columns.AddRange(labels.Select(label => label.Compute(bars)));
        FeatureCsv.Write(output, bars.Timestamps, names, columns);
        stdout.WriteLine($"wrote {bars.Count} rows x {spec.Count} features{(labels.Length > 0 ? $" + {labels.Length} label{(labels.Length > 1 ? "s" : "")}" : "")} to {output}");
        return 0;
    }
}
