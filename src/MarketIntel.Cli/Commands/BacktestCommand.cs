using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using MarketIntel.CommandLine;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Training;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel backtest</c>: walk-forward evaluation of a direction model on a bar file. Each fold trains the
/// booster on the rows before its test window only; the test rows' predictions are scored with their significance
/// and traded long/short against baselines (each signal held for its horizon), and a Markdown report with an equity
/// curve and a calibration plot (SVG) is written. <c>--save-model</c> keeps the booster trained on all rows, with its
/// lineage.
/// </summary>
internal static class BacktestCommand
{
    public const string Usage = "marketintel backtest --data BARS.csv --spec SPEC --horizon K [--close COLUMN] [--windows expanding|rolling] [--train-rows N] "
        + "[--test-rows M] [--cost-bps 1] [--periods-per-year 252] [--rounds 100] [--max-depth 3] [--eta 0.1] [--seed 0] [--save-model MODEL.json] --report DIR";

    private sealed record Row(string Name, DirectionalAccuracy Direction, double Auc, double LogLoss, BacktestResult Trades);

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var options = CliArguments.Parse(args, ["data", "spec", "horizon", "close", "windows", "train-rows", "test-rows", "cost-bps", "periods-per-year", "rounds",
            "max-depth", "eta", "seed", "report", "save-model"]);
        string data = options.Required("data");
        string specText = options.Required("spec");
        string report = options.Required("report");
        string? saveModel = options.Optional("save-model");
        if (saveModel is not null && Path.GetDirectoryName(Path.GetFullPath(saveModel)) is { } modelFolder && !Directory.Exists(modelFolder))
        {
            // Checked first, so that a long run does not end without the model it was asked to save.
            throw new UsageException($"option '--save-model': folder '{modelFolder}' does not exist");
        }
        int horizon = options.OptionalInt("horizon", 1, 10_000) ?? throw new UsageException("missing required option '--horizon'");
        string windows = options.Optional("windows") ?? "expanding";
        if (windows is not ("expanding" or "rolling"))
        {
            throw new UsageException($"option '--windows': '{windows}' is not expanding or rolling");
        }
        double Number(string name, double fallback, double min) => options.OptionalDouble(name, min) ?? fallback;
        double costBps = Number("cost-bps", 1, 0);
        double periodsPerYear = Number("periods-per-year", 252, 1);
        var parameters = new BoostParameters
        {
            Objective = "binary:logistic",
            Rounds = options.OptionalInt("rounds", 1, 100_000) ?? 100,
            MaxDepth = options.OptionalInt("max-depth", 1, 16) ?? 3,
            Eta = Number("eta", 0.1, 1e-6),
            Seed = options.OptionalInt("seed", 0, int.MaxValue) ?? 0,
        };

        try
        {
            parameters.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        FeatureSet spec = FeatureSet.Parse(specText);
        BarSeries bars = BarCsv.Read(data, options.Optional("close"));
        Dataset rows;
        IReadOnlyList<Fold> folds;
        try
        {
            rows = Dataset.Build(bars, spec, horizon, LabelKind.Direction);
            int train = options.OptionalInt("train-rows", 10, int.MaxValue) ?? Math.Max(100, rows.Rows / 2);
            int test = options.OptionalInt("test-rows", 1, int.MaxValue) ?? 250;
            folds = WalkForward.Folds(rows.Rows, train, test, windows == "rolling", horizon);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{data}: {e.Message}");
        }

        // Each fold's model sees only rows before its test window (and the gap that keeps labels out of it).
        int first = folds[0].TestStart;
        int tested = rows.Rows - first;
        var probability = new double[tested];
        foreach (Fold fold in folds)
        {
            int width = rows.FeatureCount;
            BoostedTrees model = GradientBooster.Train(rows.Features.AsSpan(fold.TrainStart * width, (fold.TrainEnd - fold.TrainStart) * width),
                rows.FeatureNames, rows.Labels.AsSpan(fold.TrainStart, fold.TrainEnd - fold.TrainStart), parameters);
            for (int r = fold.TestStart; r < fold.TestEnd; r++)
            {
                probability[r - first] = model.Predict(rows.Row(r));
            }
        }
        float[] labels = rows.Labels[first..];
        int[] barOf = rows.BarIndex[first..];
        double[] last = barOf.Select(b => b > 0 ? bars.Close[b] / bars.Close[b - 1] - 1 : 0).ToArray();
        // Every signal is held for its horizon (1/K of it on each of the K bars its label spans), so the trades run
        // from the first test row's bar to K - 1 bars past the last one; those bars have closes, as the last label does.
        int firstBar = barOf[0];
        int tradedBars = barOf[^1] - firstBar + horizon;
        double[] next = Enumerable.Range(firstBar, tradedBars).Select(b => bars.Close[b + 1] / bars.Close[b] - 1).ToArray();

        Row Score(string name, double[] p, double[] signals) => new(name, Metrics.Direction(p, labels), Metrics.Auc(p, labels), Metrics.LogLoss(p, labels),
            Backtest.Run(Backtest.HoldForHorizon(signals, barOf, horizon), next, costBps, periodsPerYear));
        var table = new[]
        {
            Score("model", probability, probability.Select(p => p > 0.5 ? 1.0 : -1.0).ToArray()),
            Score("always long (buy and hold)", Enumerable.Repeat(1.0, tested).ToArray(), Backtest.AlwaysLong(tested)),
            Score("previous-bar direction", last.Select(r => r > 0 ? 1.0 : r < 0 ? 0.0 : 0.5).ToArray(), Backtest.PreviousDirection(last)),
        };

        string heading = string.Create(CultureInfo.InvariantCulture,
            $"{data}: {rows.Rows} rows ({spec.Count} features, label: up over the next {horizon} bars), {folds.Count} {windows} walk-forward folds, {tested} test rows from {bars.Timestamps[barOf[0]]} to {bars.Timestamps[barOf[^1]]}; {Holding(horizon)}, {tradedBars} bars traded, {costBps:0.##} bps per unit traded");
        string markdown = Table(table);
        stdout.WriteLine(heading);
        stdout.WriteLine();
        stdout.Write(markdown);

        if (saveModel is not null)
        {
            SaveModel(saveModel, rows, parameters, specText, data, options.Optional("close"), stdout);
        }
        Directory.CreateDirectory(report);
        File.WriteAllText(Path.Combine(report, "equity.svg"), Svg.Lines("Equity of 1 (bars traded)", table.Select(t => (t.Name, t.Trades.Equity)).ToArray()));
        File.WriteAllText(Path.Combine(report, "calibration.svg"), Svg.Calibration("Calibration: predicted p(up) against the share that went up", probability, labels));
        File.WriteAllText(Path.Combine(report, "report.md"), string.Join('\n',
            "# Walk-forward backtest",
            "",
            heading + ".",
            "",
            string.Create(CultureInfo.InvariantCulture, $"Model: {parameters.Objective}, depth {parameters.MaxDepth}, eta {parameters.Eta}, {parameters.Rounds} rounds, seed {parameters.Seed}; spec `{specText}`."),
            "",
            markdown,
            "p-values are one-sided binomial tests of at least the observed hits: against 50%, and against the majority-class rate of the test rows.",
            "",
            "![equity](equity.svg)",
            "",
            "![calibration](calibration.svg)",
            ""));
        stdout.WriteLine($"wrote {Path.Combine(report, "report.md")} with equity.svg and calibration.svg");
        return 0;
    }

    /// <summary>
    /// Trains on every row (the walk-forward folds only measured how well this recipe does) and writes the model with
    /// its lineage next to it, as <c>serve --model</c> and the registry take it.
    /// </summary>
    private static void SaveModel(string path, Dataset rows, BoostParameters parameters, string specText, string data, string? close, TextWriter stdout)
    {
        BoostedTrees model = GradientBooster.Train(rows.Features, rows.FeatureNames, rows.Labels, parameters);
        var bytes = new MemoryStream();
        model.WriteXgboostJson(bytes);
        byte[] modelBytes = bytes.ToArray();
        byte[] dataSha;
        using (FileStream file = File.OpenRead(data))
        {
            dataSha = SHA256.HashData(file);
        }
        string version = typeof(BacktestCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        var lineage = new ModelLineage("marketintel backtest", version, specText, rows, data, Convert.ToHexStringLower(dataSha), close, parameters,
            Path.GetFileName(path), Convert.ToHexStringLower(SHA256.HashData(modelBytes)));
        AtomicFile.Write(path, stream => stream.Write(modelBytes));
        AtomicFile.Write(path + ModelLineage.FileSuffix, lineage.WriteJson);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"saved the model trained on all {rows.Rows} rows ({rows.Timestamps[0]} to {rows.Timestamps[^1]}) to {path}, its lineage to {path}{ModelLineage.FileSuffix}"));
    }

    private static string Holding(int horizon) => horizon == 1
        ? "trades long/short on the next bar"
        : string.Create(CultureInfo.InvariantCulture, $"trades long/short holding each signal {horizon} bars (overlapping positions of 1/{horizon} each, costs on the change of their sum)");

    private static string Table(Row[] rows)
    {
        var b = new StringBuilder();
        b.AppendLine("| | accuracy | p vs 50% | p vs majority | AUC | log loss | cumulative return | Sharpe | max drawdown | hit rate | turnover |");
        b.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (Row r in rows)
        {
            b.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Direction.Accuracy:P1} | {r.Direction.PValueVsHalf:G3} | {r.Direction.PValueVsMajority:G3} | {(r.Name == "model" ? r.Auc.ToString("0.000", CultureInfo.InvariantCulture) : "-")} | {(r.Name == "model" ? r.LogLoss.ToString("0.0000", CultureInfo.InvariantCulture) : "-")} | {r.Trades.CumulativeReturn:P1} | {r.Trades.Sharpe:0.00} | {r.Trades.MaxDrawdown:P1} | {r.Trades.HitRate:P1} | {r.Trades.Turnover:0.000} |"));
        }
        return b.ToString();
    }

    /// <summary>Plain SVG line and calibration charts: no plotting package needed to read a report.</summary>
    private static class Svg
    {
        private const int Width = 720, Height = 360, Left = 60, Right = 20, Top = 40, Bottom = 40;
        private static readonly string[] Colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];

        public static string Lines(string title, (string Name, double[] Values)[] series)
        {
            double min = series.Min(s => s.Values.Min()), max = series.Max(s => s.Values.Max());
            if (max - min < 1e-12)
            {
                max = min + 1;
            }
            int n = series.Max(s => s.Values.Length);
            var b = Begin(title);
            Axes(b, $"{min:0.###}", $"{max:0.###}", "bar 1", $"{n}");
            for (int k = 0; k < series.Length; k++)
            {
                b.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{Colors[k % Colors.Length]}\" stroke-width=\"1.5\" points=\"");
                double[] v = series[k].Values;
                for (int i = 0; i < v.Length; i++)
                {
                    b.Append(CultureInfo.InvariantCulture, $"{X(i, n):0.#},{Y(v[i], min, max):0.#} ");
                }
                b.Append("\"/>\n");
                b.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + 10}\" y=\"{Top + 16 + 16 * k}\" fill=\"{Colors[k % Colors.Length]}\" font-size=\"13\">{Escape(series[k].Name)}</text>\n");
            }
            return b.Append("</svg>\n").ToString();
        }

        public static string Calibration(string title, double[] p, float[] y)
        {
            const int bins = 10;
            var sum = new double[bins];
            var hits = new double[bins];
            var count = new int[bins];
            for (int i = 0; i < p.Length; i++)
            {
                int k = Math.Min(bins - 1, (int)(p[i] * bins));
                sum[k] += p[i];
                hits[k] += y[i];
                count[k]++;
            }
            var b = Begin(title);
            Axes(b, "0", "1", "predicted 0", "1");
            b.Append(CultureInfo.InvariantCulture, $"<line x1=\"{X(0, 1)}\" y1=\"{Y(0, 0, 1)}\" x2=\"{X(1, 1)}\" y2=\"{Y(1, 0, 1)}\" stroke=\"#999\" stroke-dasharray=\"4\"/>\n");
            for (int k = 0; k < bins; k++)
            {
                if (count[k] == 0)
                {
                    continue;
                }
                double r = 3 + Math.Min(9, Math.Sqrt(count[k]) / 3);
                b.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{X(sum[k] / count[k], 1):0.#}\" cy=\"{Y(hits[k] / count[k], 0, 1):0.#}\" r=\"{r:0.#}\" fill=\"{Colors[0]}\"><title>{count[k]} rows</title></circle>\n");
            }
            return b.Append("</svg>\n").ToString();
        }

        private static StringBuilder Begin(string title) => new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\">\n")
            .Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n<text x=\"{Left}\" y=\"24\" font-size=\"15\">{Escape(title)}</text>\n");

        private static void Axes(StringBuilder b, string low, string high, string from, string to) => b
            .Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{Width - Left - Right}\" height=\"{Height - Top - Bottom}\" fill=\"none\" stroke=\"#333\"/>\n")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{Height - Bottom}\" font-size=\"11\" text-anchor=\"end\">{Escape(low)}</text>\n")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{Top + 10}\" font-size=\"11\" text-anchor=\"end\">{Escape(high)}</text>\n")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"{Height - Bottom + 16}\" font-size=\"11\">{Escape(from)}</text>\n")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{Width - Right}\" y=\"{Height - Bottom + 16}\" font-size=\"11\" text-anchor=\"end\">{Escape(to)}</text>\n");

        private static double X(double i, double n) => Left + (Width - Left - Right) * (n <= 1 ? i : i / (n - 1));

        private static double Y(double v, double min, double max) => Height - Bottom - (Height - Top - Bottom) * (v - min) / (max - min);

        private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
    }
}
