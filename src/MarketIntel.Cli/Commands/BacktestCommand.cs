using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using MarketIntel.CommandLine;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Gpu.Devices;
using MarketIntel.Gpu.Inference;
using MarketIntel.Inference;
using MarketIntel.Training;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel backtest</c>: walk-forward evaluation of a direction model on a bar file. Each fold trains the
/// booster on the rows before its test window only; the test rows' predictions are scored with their significance
/// and traded long/short against baselines (each signal held for its horizon), and a Markdown report with an equity
/// curve and a calibration plot (SVG, drawn with ScottPlot) is written. <c>--save-model</c> keeps the booster trained on all rows, with its
/// lineage.
/// </summary>
internal static class BacktestCommand
{
    public const string Usage = "marketintel backtest --data BARS.csv --spec SPEC --horizon K [--close COLUMN] [--windows expanding|rolling] [--train-rows N] "
        + "[--test-rows M] [--cost-bps 1] [--periods-per-year 252] [--rounds 100] [--max-depth 3] [--eta 0.1] [--seed 0] [--save-model MODEL.json [--asset SYMBOL] [--replaces VERSION] [--profile-bins 20]] [--log-scale] " + DeviceOption.Usage + " --report DIR";

    private sealed record Row(string Name, DirectionalAccuracy Direction, double Auc, double LogLoss, BacktestResult Trades);

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var options = CliArguments.Parse(args, ["data", "spec", "horizon", "close", "windows", "train-rows", "test-rows", "cost-bps", "periods-per-year", "rounds",
            "max-depth", "eta", "seed", "report", "save-model", "asset", "replaces", SavedModel.ProfileBinsOption, DeviceOption.Name], ["log-scale"]);
        string data = options.Required("data");
        string specText = options.Required("spec");
        string report = options.Required("report");
        string? saveModel = options.Optional("save-model");
        if (saveModel is not null && Path.GetDirectoryName(Path.GetFullPath(saveModel)) is { } modelFolder && !Directory.Exists(modelFolder))
        {
            // Checked first, so that a long run does not end without the model it was asked to save.
            throw new UsageException($"option '--save-model': folder '{modelFolder}' does not exist");
        }
        int profileBins = SavedModel.ProfileBins(options);
        int horizon = options.OptionalInt("horizon", 1, 10_000) ?? throw new UsageException("missing required option '--horizon'");
        string windows = options.Optional("windows") ?? "expanding";
        if (windows is not ("expanding" or "rolling"))
        {
            throw new UsageException($"option '--windows': '{windows}' is not expanding or rolling");
        }
        double Number(string name, double fallback, double min) => options.OptionalDouble(name, min) ?? fallback;
        double costBps = Number("cost-bps", 1, 0);
        double periodsPerYear = Number("periods-per-year", 252, 1);
        BoostParameters defaults = BoostParameters.ForLabel(LabelKind.Direction);
        var parameters = defaults with
        {
            Rounds = options.OptionalInt("rounds", 1, 100_000) ?? defaults.Rounds,
            MaxDepth = options.OptionalInt("max-depth", 1, 16) ?? defaults.MaxDepth,
            Eta = Number("eta", defaults.Eta, 1e-6),
            Seed = options.OptionalInt("seed", 0, int.MaxValue) ?? defaults.Seed,
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
        using (GpuDevice? device = DeviceOption.Open(options, stdout))
        {
            foreach (Fold fold in folds)
            {
                int width = rows.FeatureCount;
                BoostedTrees model = GradientBooster.Train(rows.Features.AsSpan(fold.TrainStart * width, (fold.TrainEnd - fold.TrainStart) * width),
                    rows.FeatureNames, rows.Labels.AsSpan(fold.TrainStart, fold.TrainEnd - fold.TrainStart), parameters);
                if (device is not null)
                {
                    PredictOnDevice(device, model, rows.Features.AsSpan(fold.TestStart * width, (fold.TestEnd - fold.TestStart) * width), probability.AsSpan(fold.TestStart - first));
                    continue;
                }
                for (int r = fold.TestStart; r < fold.TestEnd; r++)
                {
                    probability[r - first] = model.Predict(rows.Row(r));
                }
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

        // The plots are drawn before anything is written, so one that cannot be drawn leaves no partial output.
        // Equity point j is the value at the close of the bar after bar firstBar + j, the bar whose return it took.
        string[] equityKeys = Enumerable.Range(firstBar + 1, tradedBars).Select(b => bars.Timestamps[b]).ToArray();
        string equitySvg = BacktestPlots.Equity("Equity of 1 over the traded bars", equityKeys, table.Select(t => (t.Name, t.Trades.Equity)).ToArray(),
            options.Flag("log-scale"));
        string calibrationSvg = BacktestPlots.Calibration("Calibration: predicted p(up) against the share that went up", probability, labels);
        if (saveModel is not null)
        {
            // The walk-forward's scores of the model are the saved model's validation: the same recipe on earlier rows.
            IReadOnlyDictionary<string, double> validation = WalkForward.Scores(probability, labels, folds.Count, LabelKind.Direction);
            var lineage = new LineageExtras(options.Optional("asset") is { } asset ? [asset] : [], validation, options.Optional("replaces"), profileBins);
            SaveModel(saveModel, rows, parameters, specText, data, options.Optional("close"), lineage, stdout);
        }
        Directory.CreateDirectory(report);
        File.WriteAllText(Path.Combine(report, "equity.svg"), equitySvg);
        File.WriteAllText(Path.Combine(report, "calibration.svg"), calibrationSvg);
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
    /// its lineage (and the profile of those rows) next to it, as <c>serve --model</c> and the registry take it.
    /// </summary>
    private static void SaveModel(string path, Dataset rows, BoostParameters parameters, string specText, string data, string? close, LineageExtras extras, TextWriter stdout)
    {
        BoostedTrees model = GradientBooster.Train(rows.Features, rows.FeatureNames, rows.Labels, parameters);
        SavedModel.Write(path, model, "marketintel backtest", specText, TrainingRows.Of(rows), rows.Features, data, close, extras);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"saved the model trained on all {rows.Rows} rows ({rows.Timestamps[0]} to {rows.Timestamps[^1]}) to {path}, its lineage to {path}{ModelLineage.FileSuffix}"));
    }

    /// <summary>
    /// A fold's test rows in one batch on the device: the model goes through its XGBoost JSON (as <c>predict</c> and the
    /// grid load it), whose evaluator sums margins in float as XGBoost does, where the CPU path here sums in double; the
    /// probabilities agree to about 1e-6.
    /// </summary>
    private static void PredictOnDevice(GpuDevice device, BoostedTrees model, ReadOnlySpan<float> testRows, Span<double> probability)
    {
        using var json = new MemoryStream();
        model.WriteXgboostJson(json);
        using Model loaded = Model.Load(json.ToArray(), "the fold's model");
        using var ensemble = new GpuTreeEnsemble(device, loaded);
        float[] outputs = new float[testRows.Length / loaded.FeatureCount];
        ensemble.PredictBatch(testRows, outputs);
        for (int i = 0; i < outputs.Length; i++)
        {
            probability[i] = outputs[i];
        }
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
}
