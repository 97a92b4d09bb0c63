using System.Diagnostics;
using System.Globalization;
using MarketIntel.CommandLine;
using MarketIntel.Features.Io;
using MarketIntel.Inference.Io;
using MarketIntel.Training;

namespace MarketIntel.Cli.Commands;

/// <summary>
/// <c>marketintel train</c>: histogram gradient boosting on a CSV (a header, the label column, every other column a
/// feature, empty = missing), written as an XGBoost JSON model that <c>predict</c>, <c>serve</c> and XGBoost load.
/// </summary>
internal static class TrainCommand
{
    public const string Usage = "marketintel train --input TRAIN.csv --label COLUMN [--objective binary:logistic|reg:squarederror] [--max-depth 6] [--eta 0.3] "
        + "[--rounds 100] [--min-child-weight 1] [--lambda 1] [--alpha 0] [--gamma 0] [--subsample 1] [--colsample-bytree 1] [--max-bin 256] "
        + "[--seed 0] [--threads N] --output MODEL.json";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var options = CliArguments.Parse(args, ["input", "label", "output", "objective", "max-depth", "eta", "rounds", "min-child-weight", "lambda", "alpha",
            "gamma", "subsample", "colsample-bytree", "max-bin", "seed", "threads"]);
        string input = options.Required("input");
        string labelName = options.Required("label");
        string output = options.Required("output");
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
        FeatureMatrix table = FeatureMatrixCsv.Read(input);
        int label = Array.IndexOf(table.Names, labelName);
        if (label < 0)
        {
            throw new UsageException($"{input}: no column '{labelName}' for --label (columns: {string.Join(", ", table.Names)})");
        }
        if (table.Names.Length < 2)
        {
            throw new UsageException($"{input}: no feature columns besides the label '{labelName}'");
        }
        if (table.Rows == 0)
        {
            throw new UsageException($"{input}: no data rows");
        }
        int width = table.Names.Length;
        string[] names = table.Names.Where((_, c) => c != label).ToArray();
        var x = new float[table.Rows * names.Length];
        var y = new float[table.Rows];
        for (int r = 0; r < table.Rows; r++)
        {
            ReadOnlySpan<float> row = table.Values.AsSpan(r * width, width);
            y[r] = row[label];
            int k = r * names.Length;
            for (int c = 0; c < width; c++)
            {
                if (c != label)
                {
                    x[k++] = row[c];
                }
            }
        }

        bool live = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        var clock = Stopwatch.StartNew();
        BoostedTrees model;
        try
        {
            model = GradientBooster.Train(x, names, y, parameters, live ? round => Progress(stderr, round, parameters.Rounds, clock) : null);
        }
        catch (ArgumentException e)
        {
            string what = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
            throw new UsageException($"{input}: {what} (rows counted from the first data row)");
        }
        if (live)
        {
            stderr.Write("\r" + new string(' ', 60) + "\r");
        }
        AtomicFile.Write(output, model.WriteXgboostJson);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"trained {parameters.Rounds} rounds ({parameters.Objective}, depth {parameters.MaxDepth}) on {table.Rows} rows x {names.Length} features in {clock.Elapsed.TotalSeconds:0.00} s; wrote {output}"));
        return 0;
    }

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
