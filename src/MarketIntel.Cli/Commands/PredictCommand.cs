using MarketIntel.CommandLine;
using MarketIntel.Inference;
using MarketIntel.Inference.Io;

namespace MarketIntel.Cli.Commands;

/// <summary><c>marketintel predict --model MODEL.json|MODEL.onnx --input X.csv --output P.csv [--key COLUMN] [--skip-incomplete]</c>.</summary>
internal static class PredictCommand
{
    public const string Usage = "marketintel predict --model MODEL.json|MODEL.onnx --input X.csv --output P.csv [--key COLUMN] [--skip-incomplete]";

    /// <summary>What <c>predict --help</c> adds under the usage line.</summary>
    public const string Details = "  the key column (--key, else a first column named timestamp or holding non-numbers) is written first, so predictions join back;"
        + "\n  a row with an empty model input (the warm-up rows of features) is predicted with that value missing (trees take"
        + "\n  the default branch, ONNX gets NaN), unless --skip-incomplete leaves the row out";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var options = CliArguments.Parse(args, ["model", "input", "output", "key"], flags: ["skip-incomplete"]);
        string modelPath = options.Required("model");
        string input = options.Required("input");
        string output = options.Required("output");
        bool skipIncomplete = options.Flag("skip-incomplete");

        // Model and input are both checked before anything is written.
        using Model model = Model.LoadFile(modelPath);
        FeatureMatrix matrix = FeatureMatrixCsv.Read(input, options.Optional("key"));
        float[] rows = matrix.ForModel(model);
        int width = model.FeatureCount;
        int[] kept = Enumerable.Range(0, matrix.Rows)
            .Where(r => !skipIncomplete || IsComplete(rows.AsSpan(r * width, width)))
            .ToArray();
        if (kept.Length < matrix.Rows)
        {
            var complete = new float[kept.Length * width];
            for (int i = 0; i < kept.Length; i++)
            {
                rows.AsSpan(kept[i] * width, width).CopyTo(complete.AsSpan(i * width));
            }
            rows = complete;
        }
        var predictions = new float[kept.Length * model.OutputCount];
        model.PredictBatch(rows, predictions);
        string[]? keys = matrix.Keys is { } all ? kept.Select(r => all[r]).ToArray() : null;
        FeatureMatrixCsv.WritePredictions(output, model.OutputNames, predictions, matrix.KeyName, keys);
        stdout.WriteLine($"wrote {kept.Length} predictions ({string.Join(",", model.OutputNames)}) to {output}"
            + (kept.Length < matrix.Rows ? $"; skipped {matrix.Rows - kept.Length} rows with a missing model input" : ""));
        return 0;
    }

    private static bool IsComplete(ReadOnlySpan<float> inputs)
    {
        foreach (float v in inputs)
        {
            if (float.IsNaN(v))
            {
                return false;
            }
        }
        return true;
    }
}
