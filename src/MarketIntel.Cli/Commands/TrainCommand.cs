using System.Diagnostics;
using System.Globalization;
using MarketIntel.CommandLine;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Gpu.Devices;
using MarketIntel.Gpu.Training;
using MarketIntel.Inference.Io;
using MarketIntel.Training;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel train</c>: histogram gradient boosting on a CSV (a header, the label column, an optional key column,
/// every other column a feature, empty = missing), written as an XGBoost JSON model that <c>predict</c>, <c>serve</c> and XGBoost load.
/// </summary>
internal static class TrainCommand
{
    public const string Usage = "marketintel train --input TRAIN.csv --label COLUMN [--key COLUMN] [--objective binary:logistic|reg:squarederror] [--max-depth 6] [--eta 0.3] "
        + "[--rounds 100] [--min-child-weight 1] [--lambda 1] [--alpha 0] [--gamma 0] [--subsample 1] [--colsample-bytree 1] [--max-bin 256] "
        + "[--seed 0] [--threads N] [--asset SYMBOL] [--replaces VERSION] [--profile-bins 20] " + DeviceOption.Usage + " --output MODEL.json";

    /// <summary>What <c>train --help</c> adds under the usage line.</summary>
    public const string Details = "  the key column (--key, else a first column named timestamp or holding non-numbers) is not a feature;"
        + "\n  nor are other label columns (up_K, and logret_K when its last row is empty: a column that looks ahead); rows whose label is empty (the last K rows of features --label) are skipped;"
        + "\n  the lineage carries the training rows' reference profile for drift (--profile-bins quantile bins per feature and for the prediction);"
        + "\n  --device: histograms and row partitions on a CUDA device (auto: when one is present), split finding on the CPU; the model is the same on every run and within a hair of the CPU path's";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var options = CliArguments.Parse(args, ["input", "label", "key", "output", "objective", "max-depth", "eta", "rounds", "min-child-weight", "lambda", "alpha",
            "gamma", "subsample", "colsample-bytree", "max-bin", "seed", "threads", "asset", "replaces", SavedModel.ProfileBinsOption, DeviceOption.Name]);
        string input = options.Required("input");
        string labelName = options.Required("label");
        string output = options.Required("output");
        int profileBins = SavedModel.ProfileBins(options);
        double Number(string name, double fallback) => options.OptionalDouble(name) ?? fallback;
        var parameters = new BoostParameters
        {
            Objective = options.Optional("objective") ?? "binary:logistic",
            MaxDepth = options.OptionalInt("max-depth", int.MinValue, int.MaxValue) ?? 6,
            Eta = Number("eta", 0.3),
            Rounds = options.OptionalInt("rounds", int.MinValue, int.MaxValue) ?? 100,
            MinChildWeight = Number("min-child-weight", 1),
            Lambda = Number("lambda", 1),
            Alpha = Number("alpha", 0),
            Gamma = Number("gamma", 0),
            Subsample = Number("subsample", 1),
            ColsampleBytree = Number("colsample-bytree", 1),
            MaxBin = options.OptionalInt("max-bin", int.MinValue, int.MaxValue) ?? 256,
            Seed = options.OptionalInt("seed", int.MinValue, int.MaxValue) ?? 0,
            Threads = options.OptionalInt("threads", 0, 1024) ?? 0,
        };
        try
        {
            parameters.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        // The whole input is read and checked before training starts and before anything is written.
        FeatureMatrix table = FeatureMatrixCsv.Read(input, options.Optional("key"));
        int label = Array.IndexOf(table.Names, labelName);
        if (label < 0)
        {
            throw new UsageException($"{input}: no column '{labelName}' for --label (columns: {string.Join(", ", table.Names)})");
        }
        int width = table.Names.Length;
        // Other label columns look ahead of their row: as features they would leak the future into the model. up_K
        // is never a feature name; logret_K is also the past log return feature, so that name counts as a label only
        // when the column looks ahead as features --label writes it: empty on the last row.
        bool IsOtherLabel(int c) => c != label && LabelDefinition.TryParse(table.Names[c], out LabelDefinition other)
            && (other.Kind == LabelKind.Direction || (table.Rows > 0 && float.IsNaN(table.Values[((table.Rows - 1) * width) + c])));
        int[] featureColumns = Enumerable.Range(0, width).Where(c => c != label && !IsOtherLabel(c)).ToArray();
        string[] leftOut = Enumerable.Range(0, width).Where(IsOtherLabel).Select(c => table.Names[c]).ToArray();
        if (featureColumns.Length == 0)
        {
            throw new UsageException($"{input}: no feature columns besides the label '{labelName}'{(table.KeyName is { } key ? $", the key '{key}'" : "")} and other label columns");
        }
        string[] names = featureColumns.Select(c => table.Names[c]).ToArray();
        var labelled = Enumerable.Range(0, table.Rows).Where(r => !float.IsNaN(table.Values[(r * width) + label])).ToArray();
        if (labelled.Length == 0)
        {
            throw new UsageException(table.Rows == 0 ? $"{input}: no data rows" : $"{input}: no row has a value in the label column '{labelName}'");
        }
        var x = new float[labelled.Length * names.Length];
        var y = new float[labelled.Length];
        for (int i = 0; i < labelled.Length; i++)
        {
            ReadOnlySpan<float> row = table.Values.AsSpan(labelled[i] * width, width);
            y[i] = row[label];
            for (int f = 0; f < featureColumns.Length; f++)
            {
                x[(i * names.Length) + f] = row[featureColumns[f]];
            }
        }

        bool live = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        using GpuDevice? device = DeviceOption.Open(options, stdout);
        using GpuHistogramDevice? histograms = device is null ? null : new GpuHistogramDevice(device.Accelerator);
        var clock = Stopwatch.StartNew();
        BoostedTrees model;
        try
        {
            model = GradientBooster.Train(x, names, y, parameters, live ? round => Progress(stderr, round, parameters.Rounds, clock) : null, histograms);
        }
        catch (ArgumentException e)
        {
            string what = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
            throw new UsageException($"{input}: {what} (rows counted from the first data row{(labelled.Length < table.Rows ? ", counting only rows with a label" : "")})");
        }
        if (live)
        {
            stderr.Write("\r" + new string(' ', 60) + "\r");
        }
        // With a label the grammar names (up_K, logret_K), the lineage says what the model predicts, and the registry
        // can score it live; another label column makes a model with no lineage.
        TrainingRows? rows = LabelDefinition.TryParse(labelName, out LabelDefinition definition)
            ? new TrainingRows(names, definition, Key(table, labelled[0]), Key(table, labelled[^1]), labelled.Length)
            : null;
        SavedModel.Write(output, model, "marketintel train", null, rows, x, input, null,
            new LineageExtras(options.Optional("asset") is { } asset ? [asset] : [], null, options.Optional("replaces"), profileBins));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"trained {parameters.Rounds} rounds ({parameters.Objective}, depth {parameters.MaxDepth}) on {labelled.Length} rows x {names.Length} features in {clock.Elapsed.TotalSeconds:0.00} s; wrote {output}") +
            (rows is null ? $" (no lineage: '{labelName}' is not a label up_K or logret_K)" : $" and its lineage {output}{ModelLineage.FileSuffix}"));
        if (leftOut.Length > 0)
        {
            stdout.WriteLine($"left out the other label columns {string.Join(", ", leftOut)} (they look ahead)");
        }
        if (labelled.Length < table.Rows)
        {
            stdout.WriteLine($"skipped {table.Rows - labelled.Length} rows with no {labelName} (the last rows of features --label have no bar that far ahead)");
        }
        return 0;
    }

    // A row's key column value, or its 1-based data row number in a file with no key column.
    private static string Key(FeatureMatrix table, int row) =>
        table.Keys is { } keys ? keys[row] : "row " + (row + 1).ToString(CultureInfo.InvariantCulture);

    private static void Progress(TextWriter stderr, int round, int rounds, Stopwatch clock)
    {
        if (round % Math.Max(1, rounds / 50) != 0 && round != rounds)
        {
            return;
        }
        int filled = (int)(30.0 * round / rounds);
        stderr.Write(string.Create(CultureInfo.InvariantCulture, $"\r[{new string('#', filled)}{new string('.', 30 - filled)}] round {round}/{rounds} {clock.Elapsed.TotalSeconds:0.0} s"));
    }
}
