using System.Diagnostics;
using System.Globalization;
using MarketIntel.Features;
using MarketIntel.Features.Io;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// The main job on embedded defaults: the standard indicator set over the bundled MSFT daily bars, computed in
/// batch form and again bar by bar in streaming form, shown as a short table of the latest bars.
/// </summary>
internal static class DemoCommand
{
    public const string StandardSpec =
        "sma_20,ema_20,wma_10,rsi_14,atr_14,macd_12_26_9,macdsignal_12_26_9,bbpctb_20_2,bbwidth_20_2,roc_10," +
        "stochk_14_3,stochd_14_3,obv,logretsd_20,cci_20,adx_14,wpr_14,mfi_14,vwap_20,zscore_20";

    private static readonly string[] Shown = ["sma_20", "ema_20", "rsi_14", "macd_12_26_9", "bbpctb_20_2", "atr_14", "adx_14", "mfi_14"];

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var options = CliArguments.Parse(args, ["rows", "spec"]);
        int rows = int.TryParse(options.Optional("rows") ?? "8", NumberStyles.None, CultureInfo.InvariantCulture, out int r) && r > 0
            ? r
            : throw new UsageException($"--rows must be a positive whole number, got '{options.Optional("rows")}'");
        var spec = FeatureSet.Parse(options.Optional("spec") ?? StandardSpec);

        BarSeries bars;
        using (var stream = typeof(DemoCommand).Assembly.GetManifestResourceStream("MarketIntel.SampleData.msft-daily.csv")
            ?? throw new InvalidOperationException("the bundled sample data is missing from the build"))
        using (var reader = new StreamReader(stream))
        {
            bars = BarCsv.Parse(reader.ReadToEnd(), "msft-daily.csv (bundled)");
        }

        var clock = Stopwatch.StartNew();
        double[][] batch = spec.Compute(bars);
        double batchMs = clock.Elapsed.TotalMilliseconds;

        // The streaming form, as a serving grain runs it: one update per bar, compared cell by cell with batch.
        var online = spec.CreateStream();
        var values = new double[spec.Count];
        int mismatches = 0;
        clock.Restart();
        for (int i = 0; i < bars.Count; i++)
        {
            online.Update(bars[i], values);
            for (int f = 0; f < values.Length; f++)
            {
                if (!values[f].Equals(batch[f][i]))
                {
                    mismatches++;
                }
            }
        }
        double streamMs = clock.Elapsed.TotalMilliseconds;

        stdout.WriteLine($"MarketIntel feature engine: {spec.Count} features over {bars.Count} bundled MSFT daily bars");
        stdout.WriteLine($"batch {batchMs:F2} ms, streaming {streamMs:F2} ms, batch and streaming agree on {(mismatches == 0 ? "every cell" : $"all but {mismatches} cells")}");
        stdout.WriteLine();

        var names = spec.Names.ToList();
        var shown = Shown.Where(names.Contains).ToList();
        if (shown.Count == 0)
        {
            shown = names.Take(8).ToList();
        }
        const int width = 13;
        stdout.Write("timestamp".PadRight(12));
        foreach (string name in shown)
        {
            stdout.Write(name.Length > width - 1 ? name[..(width - 1)].PadLeft(width) : name.PadLeft(width));
        }
        stdout.WriteLine();
        for (int i = Math.Max(0, bars.Count - rows); i < bars.Count; i++)
        {
            stdout.Write(bars.Timestamps[i].PadRight(12));
            foreach (string name in shown)
            {
                double v = batch[names.IndexOf(name)][i];
                stdout.Write((double.IsFinite(v) ? v.ToString("0.0000", CultureInfo.InvariantCulture) : "").PadLeft(width));
            }
            stdout.WriteLine();
        }
        return mismatches == 0 ? 0 : 1;
    }
}
