using System.Globalization;
using MarketIntel.Inference;
using MarketIntel.Tests;

namespace MarketIntel.Training.Tests;

/// <summary>
/// The histogram booster against XGBoost 1.7 (Debian's python3-xgboost, which ./scripts/test.sh installs): the same
/// data and parameters give a test loss no worse than 1% above XGBoost's, and the model it writes is loaded by
/// XGBoost and by this project's inference engine, both predicting what the trainer does.
/// </summary>
public sealed class GradientBoosterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mi-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("binary:logistic", 6, 0.3, 60)]
    [InlineData("binary:logistic", 3, 0.1, 120)]
    [InlineData("reg:squarederror", 5, 0.2, 80)]
    public void Test_loss_is_within_1_percent_of_xgboost_and_every_engine_predicts_the_written_model_alike(string objective, int depth, double eta, int rounds)
    {
        const int rows = 12_000, train = 9_000, features = 10;
        var (x, binary, regression, names) = Synthetic.Make(rows, features, seed: depth * 31 + rounds);
        float[] y = objective == "binary:logistic" ? binary : regression;
        var parameters = new BoostParameters { Objective = objective, MaxDepth = depth, Eta = eta, Rounds = rounds, Threads = 2 };
        BoostedTrees model = GradientBooster.Train(x.AsSpan(0, train * features), names, y.AsSpan(0, train), parameters);

        string modelPath = Path.Combine(_dir, "model.json");
        using (var file = File.Create(modelPath))
        {
            model.WriteXgboostJson(file);
        }
        var ours = new double[rows - train];
        for (int r = train; r < rows; r++)
        {
            ours[r - train] = model.Predict(x.AsSpan(r * features, features));
        }
        double ourLoss = Loss(objective, ours, y.AsSpan(train));

        // This project's inference engine on the written file.
        using Model loaded = Model.LoadFile(modelPath);
        var output = new float[1];
        for (int r = train; r < rows; r++)
        {
            loaded.Predict(x.AsSpan(r * features, features), output);
            AssertClose(ours[r - train], output[0]);
        }

        // XGBoost: its own model's loss on the same split, and its predictions of ours.
        string csv = Path.Combine(_dir, "data.csv");
        File.WriteAllLines(csv, new[] { "label," + string.Join(",", names) }.Concat(Enumerable.Range(0, rows).Select(r =>
            y[r].ToString("R", CultureInfo.InvariantCulture) + "," + string.Join(",", Enumerable.Range(0, features).Select(f =>
                float.IsNaN(x[r * features + f]) ? "" : x[r * features + f].ToString("R", CultureInfo.InvariantCulture))))));
        string[] lines = PythonReference.Run(RepoPaths.Fixture("training", "xgboost_reference.py"), [csv, train.ToString(CultureInfo.InvariantCulture), objective,
            depth.ToString(CultureInfo.InvariantCulture), eta.ToString(CultureInfo.InvariantCulture), rounds.ToString(CultureInfo.InvariantCulture), modelPath]);
        double xgbLoss = double.Parse(lines[0], CultureInfo.InvariantCulture);
        double[] xgbOfOurs = lines[1].Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        Assert.True(ourLoss <= xgbLoss * 1.01, $"{objective}: our test loss {ourLoss:F5}, XGBoost's {xgbLoss:F5}");
        Assert.Equal(ours.Length, xgbOfOurs.Length);
        for (int i = 0; i < ours.Length; i++)
        {
            AssertClose(ours[i], xgbOfOurs[i]);
        }
    }

    [Fact]
    public void Missing_values_learn_the_side_their_labels_belong_to()
    {
        // The label is 1 exactly where f0 is missing: one split on f0 must send missing values the other way
        // from every present value, whichever side that is.
        var random = new Random(5);
        const int rows = 2000;
        var x = new float[rows * 2];
        var y = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            bool missing = r % 3 == 0;
            x[r * 2] = missing ? float.NaN : (float)random.NextDouble();
            x[r * 2 + 1] = (float)random.NextDouble();
            y[r] = missing ? 1 : 0;
        }
        var model = GradientBooster.Train(x, ["f0", "f1"], y, new BoostParameters { MaxDepth = 1, Rounds = 20 });
        Assert.True(model.Predict([float.NaN, 0.5f]) > 0.9);
        Assert.True(model.Predict([0.01f, 0.5f]) < 0.1);
        Assert.True(model.Predict([0.99f, 0.5f]) < 0.1);
    }

    [Fact]
    public void The_same_seed_gives_the_same_model_and_sampling_follows_the_seed()
    {
        var (x, y, _, names) = Synthetic.Make(3000, 6, seed: 9);
        string Json(int seed)
        {
            var p = new BoostParameters { Rounds = 10, Subsample = 0.7, ColsampleBytree = 0.5, Seed = seed };
            using var stream = new MemoryStream();
            GradientBooster.Train(x, names, y, p).WriteXgboostJson(stream);
            return System.Text.Encoding.UTF8.GetString(stream.ToArray());
        }
        Assert.Equal(Json(1), Json(1));
        Assert.NotEqual(Json(1), Json(2));
    }

    [Fact]
    public void The_model_does_not_depend_on_the_thread_count()
    {
        // Partial histograms are per block of rows, not per thread, and summed in block order.
        var (x, y, _, names) = Synthetic.Make(40_000, 8, seed: 4);
        string Json(int threads)
        {
            var p = new BoostParameters { Rounds = 15, MaxDepth = 7, Threads = threads };
            using var stream = new MemoryStream();
            GradientBooster.Train(x, names, y, p).WriteXgboostJson(stream);
            return System.Text.Encoding.UTF8.GetString(stream.ToArray());
        }
        string one = Json(1);
        Assert.Equal(one, Json(2));
        Assert.Equal(one, Json(3));
    }

    [Fact]
    public void Bins_of_one_or_two_bytes_give_the_same_model()
    {
        // Under 255 distinct values a feature, every value is its own bin whatever max_bin is: max_bin 256 stores
        // bins as bytes, 1000 as ushorts, and the trees must be the same.
        var (x, y, _, names) = Synthetic.Make(6000, 6, seed: 8);
        float[] coarse = x.Select(v => float.IsNaN(v) ? v : MathF.Round(v * 20) / 20).ToArray();
        string Json(int maxBin)
        {
            var p = new BoostParameters { Rounds = 20, MaxBin = maxBin, Threads = 2 };
            using var stream = new MemoryStream();
            GradientBooster.Train(coarse, names, y, p).WriteXgboostJson(stream);
            return System.Text.Encoding.UTF8.GetString(stream.ToArray());
        }
        Assert.Equal(Json(256), Json(1000));
    }

    [Theory]
    [InlineData("max_depth 0 must be from 1 to 16")]
    [InlineData("eta 0 must be above 0")]
    [InlineData("objective 'multi:softmax' is not binary:logistic or reg:squarederror")]
    [InlineData("subsample 1.5 must be above 0")]
    [InlineData("label of row 2: 0.5 is not 0 or 1")]
    [InlineData("label of row 3: NaN is not a finite number")]
    public void Bad_parameters_and_labels_are_refused_naming_them(string message)
    {
        float[] x = [1, 2, 3];
        BoostParameters p = message.Split(' ')[0] switch
        {
            "max_depth" => new BoostParameters { MaxDepth = 0 },
            "eta" => new BoostParameters { Eta = 0 },
            "objective" => new BoostParameters { Objective = "multi:softmax" },
            "subsample" => new BoostParameters { Subsample = 1.5 },
            _ => message.Contains("finite", StringComparison.Ordinal) ? new BoostParameters { Objective = "reg:squarederror" } : new BoostParameters(),
        };
        float[] y = message.Contains("row 2", StringComparison.Ordinal) ? [0, 0.5f, 1] : message.Contains("row 3", StringComparison.Ordinal) ? [0, 1, float.NaN] : [0, 1, 1];
        var e = Assert.Throws<ArgumentException>(() => GradientBooster.Train(x, ["f0"], y, p));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    /// <summary>Equal up to float32 rounding of a sum of tree leaves.</summary>
    private static void AssertClose(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 2e-6 * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");

    private static double Loss(string objective, double[] predictions, ReadOnlySpan<float> y)
    {
        double sum = 0;
        for (int i = 0; i < predictions.Length; i++)
        {
            double p = predictions[i];
            sum += objective == "binary:logistic"
                ? -(y[i] * Math.Log(Math.Clamp(p, 1e-15, 1 - 1e-15)) + (1 - y[i]) * Math.Log(Math.Clamp(1 - p, 1e-15, 1)))
                : (p - y[i]) * (p - y[i]);
        }
        return objective == "binary:logistic" ? sum / predictions.Length : Math.Sqrt(sum / predictions.Length);
    }
}
