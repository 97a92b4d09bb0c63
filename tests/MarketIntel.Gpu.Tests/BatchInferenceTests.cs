using System.IO.Compression;
using MarketIntel.Gpu.Inference;
using MarketIntel.Inference;
using MarketIntel.Inference.Io;
using MarketIntel.Tests;

namespace MarketIntel.Gpu.Tests;

public sealed class BatchInferenceTests(CpuAcceleratorFixture accelerator) : IClassFixture<CpuAcceleratorFixture>
{
    private const float Tolerance = 1e-6f;

    private static string ModelDir => RepoPaths.Fixture("models");

    public static TheoryData<string> XgboostModels()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(ModelDir, "*-input.csv").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(file)[..^"-input.csv".Length];
            if (!name.StartsWith("onnx", StringComparison.Ordinal))
            {
                data.Add(name);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(XgboostModels))]
    public void Every_bundled_xgboost_model_predicts_its_fixture_rows_as_the_cpu_evaluator_does(string name)
    {
        using Model model = Load(name);
        float[] rows = FeatureMatrixCsv.Read(Path.Combine(ModelDir, name + "-input.csv")).ForModel(model);
        AssertAgrees(model, rows);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(333)]
    public void Odd_row_counts_and_a_single_row_agree_with_the_cpu(int count)
    {
        using Model model = Load("xgb-multi3-d4-n40-nan");
        float[] rows = FeatureMatrixCsv.Read(Path.Combine(ModelDir, "xgb-multi3-d4-n40-nan-input.csv")).ForModel(model);
        AssertAgrees(model, rows.AsSpan(0, count * model.FeatureCount).ToArray());
    }

    [Fact]
    public void A_feature_missing_in_every_row_takes_each_splits_default_child_as_on_the_cpu()
    {
        using Model model = Load("bench-d6-n300-f40");
        float[] rows = FeatureMatrixCsv.Read(Path.Combine(ModelDir, "bench-d6-n300-f40-input.csv")).ForModel(model);
        int f = model.FeatureCount;
        rows = rows.AsSpan(0, 101 * f).ToArray();
        for (int r = 0; r < 101; r++)
        {
            rows[(r * f) + 3] = float.NaN;
            rows[(r * f) + (r % f)] = float.NaN;  // and one more missing cell per row, in a different feature each time
        }
        float[] before = Predict(model, rows);
        AssertAgrees(model, rows);
        // The missing values changed the predictions, so the default directions were exercised.
        float[] complete = Predict(model, FeatureMatrixCsv.Read(Path.Combine(ModelDir, "bench-d6-n300-f40-input.csv")).ForModel(model).AsSpan(0, 101 * f).ToArray());
        Assert.NotEqual(complete, before);
    }

    [Fact]
    public void No_rows_give_no_outputs_and_a_ragged_batch_is_refused_naming_the_counts()
    {
        using Model model = Load("xgb-logistic-d3-n60");
        using var gpu = new GpuTreeEnsemble(accelerator.Device, model);
        gpu.PredictBatch([], []);
        var error = Assert.Throws<ArgumentException>(() => gpu.PredictBatch(new float[model.FeatureCount + 1], new float[1]));
        Assert.Contains($"{model.FeatureCount + 1} values are not whole rows of {model.FeatureCount} features", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<ArgumentException>(() => gpu.PredictBatch(new float[model.FeatureCount * 2], new float[1]));
        Assert.Contains("2 rows need 2 outputs, not 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_onnx_model_is_refused_by_kind()
    {
        using Model model = Model.Load(File.ReadAllBytes(Path.Combine(ModelDir, "onnx-mlp-8.onnx")), "onnx-mlp-8");
        var error = Assert.Throws<ArgumentException>(() => new GpuTreeEnsemble(accelerator.Device, model));
        Assert.Contains("this model is onnx", error.Message, StringComparison.Ordinal);
    }

    private void AssertAgrees(Model model, float[] rows)
    {
        float[] expected = new float[rows.Length / model.FeatureCount * model.OutputCount];
        model.PredictBatch(rows, expected);
        float[] actual = Predict(model, rows);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tolerance, $"output {i}: CPU {expected[i]:R}, GPU kernel {actual[i]:R}");
        }
    }

    private float[] Predict(Model model, float[] rows)
    {
        using var gpu = new GpuTreeEnsemble(accelerator.Device, model);
        float[] outputs = new float[rows.Length / model.FeatureCount * model.OutputCount];
        gpu.PredictBatch(rows, outputs);
        return outputs;
    }

    private static Model Load(string name)
    {
        string json = Path.Combine(ModelDir, name + ".json");
        if (File.Exists(json))
        {
            return Model.Load(File.ReadAllBytes(json), name);
        }
        using var gz = new GZipStream(File.OpenRead(json + ".gz"), CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gz.CopyTo(bytes);
        return Model.Load(bytes.ToArray(), name);
    }
}
