using System.Globalization;
using MarketIntel.Tests;

namespace MarketIntel.Cli.Tests;

/// <summary>`marketintel predict`: files in, files out, exit codes and one-line errors.</summary>
public sealed class PredictCommandTests : CliTestBase
{
    private static string Model(string name) => RepoPaths.Fixture("models", name);

    [Theory]
    [InlineData("xgb-cls-d4-n80.json", "xgb-cls-d4-n80")]
    [InlineData("xgb-multi3-d4-n40-nan.json", "xgb-multi3-d4-n40-nan")]
    [InlineData("onnx-mlp-8.onnx", "onnx-mlp-8")]
    public void Predictions_are_written_with_the_expected_header_and_values(string model, string name)
    {
        string output = Path.Combine(Dir, "p.csv");
        var (code, stdout, err) = Run("predict", "--model", Model(model), "--input", Model(name + "-input.csv"), "--output", output);
        Assert.True(code == 0, err);
        Assert.Contains("wrote", stdout, StringComparison.Ordinal);
        string[] ours = File.ReadAllLines(output);
        string[] expected = File.ReadAllLines(Model(name + "-expected.csv"));
        Assert.Equal(expected[0], ours[0]);
        Assert.Equal(expected.Length, ours.Length);
        for (int r = 1; r < ours.Length; r++)
        {
            double[] a = ours[r].Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            double[] b = expected[r].Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(b.Length, a.Length);
            for (int c = 0; c < a.Length; c++)
            {
                Assert.True(Math.Abs(a[c] - b[c]) <= 1e-6 * Math.Max(1, Math.Abs(b[c])), $"line {r + 1}: {ours[r]} vs {expected[r]}");
            }
        }
    }

    [Fact]
    public void A_bad_model_gives_exit_code_2_one_line_and_no_output()
    {
        string model = Path.Combine(Dir, "m.json");
        File.WriteAllText(model, File.ReadAllText(Model("xgb-cls-d4-n80.json")).Replace("binary:logistic", "rank:pairwise", StringComparison.Ordinal));
        string output = Path.Combine(Dir, "p.csv");
        var (code, _, err) = Run("predict", "--model", model, "--input", Model("xgb-cls-d4-n80-input.csv"), "--output", output);
        Assert.Equal(2, code);
        Assert.Equal($"marketintel predict: {model}: objective 'rank:pairwise' is not supported", err.Trim()[..(err.IndexOf("(supported", StringComparison.Ordinal) - 1)]);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(Dir, "*.tmp"));
    }

    [Fact]
    public void A_missing_feature_column_gives_exit_code_2_and_no_output()
    {
        string input = Path.Combine(Dir, "x.csv");
        File.WriteAllText(input, "x0,x1\n1,2\n");
        string output = Path.Combine(Dir, "p.csv");
        var (code, _, err) = Run("predict", "--model", Model("xgb-cls-d4-n80.json"), "--input", input, "--output", output);
        Assert.Equal(2, code);
        Assert.Contains($"{input}:1: the model's feature 'x2' is not a column", err, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }
}
