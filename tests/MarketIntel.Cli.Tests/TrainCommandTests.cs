using System.Globalization;
using MarketIntel.Inference;
using MarketIntel.Training;
using MarketIntel.Training.Drift;

namespace MarketIntel.Cli.Tests;

/// <summary><c>marketintel train</c>: a CSV in, an XGBoost JSON model out that <c>predict</c> reads; bad input refused by name.</summary>
public sealed class TrainCommandTests : CliTestBase
{
    /// <summary>A training CSV: label in the middle column, some feature cells empty (missing).</summary>
    private (string Path, float[] X, float[] Y) WriteData(int rows)
    {
        var random = new Random(11);
        var x = new float[rows * 3];
        var y = new float[rows];
        var lines = new List<string> { "a,up,b,c" };
        for (int r = 0; r < rows; r++)
        {
            for (int f = 0; f < 3; f++)
            {
                x[r * 3 + f] = random.NextDouble() < 0.05 ? float.NaN : (float)Math.Round(random.NextDouble() * 4 - 2, 3);
            }
            y[r] = (float.IsNaN(x[r * 3]) ? 0.5 : x[r * 3]) + 0.5 * (float.IsNaN(x[r * 3 + 2]) ? 0 : x[r * 3 + 2]) + random.NextDouble() - 0.5 > 0 ? 1 : 0;
            string Cell(int f) => float.IsNaN(x[r * 3 + f]) ? "" : x[r * 3 + f].ToString("R", CultureInfo.InvariantCulture);
            lines.Add($"{Cell(0)},{y[r].ToString(CultureInfo.InvariantCulture)},{Cell(1)},{Cell(2)}");
        }
        string path = Path.Combine(Dir, "train.csv");
        File.WriteAllLines(path, lines);
        return (path, x, y);
    }

    [Fact]
    public void Trains_the_same_model_as_the_library_and_predict_reads_it()
    {
        var (path, x, y) = WriteData(2000);
        string model = Path.Combine(Dir, "model.json");
        var (code, stdout, stderr) = Run("train", "--input", path, "--label", "up", "--max-depth", "4", "--rounds", "30", "--eta", "0.2", "--output", model);
        Assert.True(code == 0, stderr);
        Assert.Contains("trained 30 rounds (binary:logistic, depth 4) on 2000 rows x 3 features", stdout, StringComparison.Ordinal);

        BoostedTrees expected = GradientBooster.Train(x, ["a", "b", "c"], y, new BoostParameters { MaxDepth = 4, Rounds = 30, Eta = 0.2 });
        using Model loaded = Model.LoadFile(model);
        Assert.Equal(["a", "b", "c"], loaded.FeatureNames);
        var output = new float[1];
        for (int r = 0; r < 2000; r += 37)
        {
            loaded.Predict(x.AsSpan(r * 3, 3), output);
            Assert.Equal(expected.Predict(x.AsSpan(r * 3, 3)), output[0], 5);
        }

        // predict matches columns by name, so the training file itself (label and all) is valid input.
        string predictions = Path.Combine(Dir, "p.csv");
        (code, _, stderr) = Run("predict", "--model", model, "--input", path, "--output", predictions);
        Assert.True(code == 0, stderr);
        Assert.Equal(2001, File.ReadAllLines(predictions).Length);
    }

    [Theory]
    [InlineData("--label|nope", "no column 'nope' for --label (columns: a, up, b, c)")]
    [InlineData("--label|a", "is not 0 or 1 (rows counted from the first data row, counting only rows with a label)")]
    [InlineData("--label|up|--max-depth|0", "max_depth 0 must be from 1 to 16")]
    [InlineData("--label|up|--eta|fast", "option '--eta': 'fast' is not a number")]
    [InlineData("--label|up|--objective|rank:pairwise", "objective 'rank:pairwise' is not binary:logistic or reg:squarederror")]
    public void Bad_input_is_refused_naming_it_and_writes_nothing(string args, string message)
    {
        var (path, _, _) = WriteData(50);
        string model = Path.Combine(Dir, "model.json");
        var (code, _, stderr) = Run(["train", "--input", path, .. args.Split('|'), "--output", model]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(model));
    }

    [Fact]
    public void A_model_trained_on_a_label_column_gets_a_lineage_the_registry_accepts_and_other_labels_get_none()
    {
        var (path, _, _) = WriteData(120);
        string labelled = Path.Combine(Dir, "labelled.csv");
        File.WriteAllLines(labelled, File.ReadAllLines(path).Select((line, i) => i == 0 ? line.Replace("up", "up_5", StringComparison.Ordinal) : line));
        string model = Path.Combine(Dir, "up5.json");
        var (code, stdout, stderr) = Run("train", "--input", labelled, "--label", "up_5", "--rounds", "5", "--asset", "EURUSD", "--replaces", "v3", "--output", model);
        Assert.True(code == 0, stderr);
        Assert.Contains($"and its lineage {model}.lineage.json", stdout, StringComparison.Ordinal);
        string lineage = File.ReadAllText(model + ".lineage.json");
        using (var json = System.Text.Json.JsonDocument.Parse(lineage))
        {
            var root = json.RootElement;
            Assert.Equal("marketintel train", root.GetProperty("tool").GetString());
            Assert.Equal("row 1", root.GetProperty("data").GetProperty("firstKey").GetString());
            Assert.Equal("row 120", root.GetProperty("data").GetProperty("lastKey").GetString());
            Assert.Equal("EURUSD", root.GetProperty("data").GetProperty("assets")[0].GetString());
            Assert.Equal("v3", root.GetProperty("replaces").GetString());
        }
        // What the registry checks when the model is registered with it: label, features, SHA-256.
        byte[] bytes = File.ReadAllBytes(model);
        using Model loaded = Model.Load(bytes, "up5");
        var info = new MarketIntel.Abstractions.ModelInfo(new("up5", "1"), loaded.Kind, loaded.FeatureNames?.ToArray(), loaded.FeatureCount, [.. loaded.OutputNames]);
        Assert.Equal("up_5", MarketIntel.Abstractions.Models.LineageCheck.Label(lineage, info, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))));

        string plain = Path.Combine(Dir, "plain.json");
        (code, stdout, stderr) = Run("train", "--input", path, "--label", "up", "--rounds", "5", "--output", plain);
        Assert.True(code == 0, stderr);
        Assert.Contains("(no lineage: 'up' is not a label up_K or logret_K)", stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(plain + ".lineage.json"));
    }

    [Fact]
    public void The_lineage_carries_the_profile_of_the_training_rows_one_reference_per_feature_and_the_models_predictions()
    {
        var (path, x, _) = WriteData(300);
        string labelled = Path.Combine(Dir, "labelled.csv");
        File.WriteAllLines(labelled, File.ReadAllLines(path).Select((line, i) => i == 0 ? line.Replace("up", "up_1", StringComparison.Ordinal) : line));
        string model = Path.Combine(Dir, "up1.json");
        var (code, _, stderr) = Run("train", "--input", labelled, "--label", "up_1", "--rounds", "8", "--profile-bins", "7", "--output", model);
        Assert.True(code == 0, stderr);

        using var lineage = System.Text.Json.JsonDocument.Parse(File.ReadAllText(model + ".lineage.json"));
        ReferenceProfile profile = ReferenceProfile.Read(lineage.RootElement.GetProperty("profile"), "lineage.profile");
        Assert.Equal(300, profile.Rows);
        Assert.Equal($"training rows of {labelled}", profile.Source);
        Assert.Equal(["a", "b", "c"], profile.Features.Select(f => f.Name));
        for (int f = 0; f < 3; f++)
        {
            FeatureReference reference = profile.Features[f];
            Assert.Equal(300, reference.Present + reference.Missing);
            Assert.Equal(Enumerable.Range(0, 300).Count(r => float.IsNaN(x[r * 3 + f])), reference.Missing);
            Assert.InRange(reference.Bins, 2, 7);
            Assert.Equal(Enumerable.Range(0, 300).Select(r => x[r * 3 + f]).Where(v => !float.IsNaN(v)).Min(), reference.Min);
        }
        // The prediction's reference is the saved model's own output on the same rows, binned.
        using Model loaded = Model.LoadFile(model);
        var output = new float[1];
        float[] predictions = Enumerable.Range(0, 300).Select(r =>
        {
            loaded.Predict(x.AsSpan(r * 3, 3), output);
            return output[0];
        }).ToArray();
        FeatureReference prediction = Assert.IsType<FeatureReference>(profile.Prediction);
        Assert.Equal(300, prediction.Present);
        Assert.Equal(0, prediction.Missing);
        Assert.Equal(predictions.Min(), prediction.Min, 5);
        Assert.Equal(predictions.Max(), prediction.Max, 5);
        int[] counts = new int[prediction.Bins];
        foreach (float p in predictions)
        {
            counts[prediction.Bin(p)]++;
        }
        Assert.Equal(prediction.Counts.Select(c => (int)c), counts);
    }

    [Fact]
    public void A_bad_profile_bin_count_is_refused_and_writes_nothing()
    {
        var (path, _, _) = WriteData(50);
        string model = Path.Combine(Dir, "model.json");
        var (code, _, stderr) = Run("train", "--input", path, "--label", "up", "--profile-bins", "0", "--output", model);
        Assert.Equal(2, code);
        Assert.Contains("--profile-bins", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(model));
    }
}
