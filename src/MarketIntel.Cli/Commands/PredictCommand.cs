using MarketIntel.CommandLine;
using MarketIntel.Inference;
using MarketIntel.Inference.Io;

namespace MarketIntel.Cli.Commands;

/// <summary><c>marketintel predict --model MODEL.json|MODEL.onnx --input X.csv --output P.csv</c>.</summary>
internal static class PredictCommand
{
    public const string Usage = "marketintel predict --model MODEL.json|MODEL.onnx --input X.csv --output P.csv";

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout)
    {
        var options = CliArguments.Parse(args, ["model", "input", "output"]);
        string modelPath = options.Required("model");
        string input = options.Required("input");
        string output = options.Required("output");

        // Model and input are both checked before anything is written.
        using Model model = Model.LoadFile(modelPath);
        FeatureMatrix matrix = FeatureMatrixCsv.Read(input);
        float[] rows = matrix.ForModel(model);
        var predictions = new float[matrix.Rows * model.OutputCount];
        model.PredictBatch(rows, predictions);
        FeatureMatrixCsv.WritePredictions(output, model.OutputNames, predictions);
        stdout.WriteLine($"wrote {matrix.Rows} predictions ({string.Join(",", model.OutputNames)}) to {output}");
        return 0;
    }
}
