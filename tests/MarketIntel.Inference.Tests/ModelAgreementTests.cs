using MarketIntel.Inference.Io;
using MarketIntel.Inference.Xgboost;

namespace MarketIntel.Inference.Tests;

/// <summary>Our predictions against XGBoost's and ONNX Runtime's own, and our fast paths against the plain walk.</summary>
public sealed class ModelAgreementTests
{
    public static TheoryData<string> Cases => Fixtures.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Batch_predictions_equal_the_expected_outputs_on_every_row(string name)
    {
        using Model model = Fixtures.Load(name);
        FeatureMatrix matrix = FeatureMatrixCsv.Read(Fixtures.Input(name));
        var (expected, columns) = Fixtures.Expected(name);
        Assert.Equal(columns, model.OutputCount);
        Assert.Equal(matrix.Rows * columns, expected.Length);

        var actual = new float[expected.Length];
        model.PredictBatch(matrix.ForModel(model), actual);
        for (int i = 0; i < expected.Length; i++)
        {
            // The expected files hold 9 significant digits, so they are exact to about 5e-9 relative.
            double tolerance = 1e-6 * Math.Max(1, Math.Abs(expected[i]));
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance,
                $"{name}: row {i / columns}, output {i % columns}: ours {actual[i]}, expected {expected[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void One_row_at_a_time_gives_exactly_the_batch_values(string name)
    {
        using Model model = Fixtures.Load(name);
        float[] rows = FeatureMatrixCsv.Read(Fixtures.Input(name)).ForModel(model);
        int n = rows.Length / model.FeatureCount, k = model.OutputCount;
        var batch = new float[n * k];
        model.PredictBatch(rows, batch);
        var one = new float[k];
        for (int r = 0; r < n; r++)
        {
            model.Predict(rows.AsSpan(r * model.FeatureCount, model.FeatureCount), one);
            Assert.Equal(batch.AsSpan(r * k, k).ToArray(), one);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_fast_tree_walk_equals_the_plain_reference_walk_bit_for_bit(string name)
    {
        using Model model = Fixtures.Load(name);
        if (model is not XgboostModel xgb)
        {
            Assert.Equal("onnx", model.Kind);
            return;
        }
        float[] rows = FeatureMatrixCsv.Read(Fixtures.Input(name)).ForModel(model);
        int n = rows.Length / model.FeatureCount, k = model.OutputCount;
        var batch = new float[n * k];
        model.PredictBatch(rows, batch);
        var scalar = new float[n * k];
        xgb.PredictBatch(rows, scalar, allowWide: false);
        var reference = new float[k];
        for (int r = 0; r < n; r++)
        {
            xgb.PredictReference(rows.AsSpan(r * model.FeatureCount, model.FeatureCount), reference);
            Assert.Equal(reference, batch.AsSpan(r * k, k).ToArray());
            Assert.Equal(reference, scalar.AsSpan(r * k, k).ToArray());
        }
    }

    [Theory]
    [InlineData("bench-d6-n300-f40")]
    [InlineData("xgb-multi3-d4-n40-nan")]
    [InlineData("xgb-hist-d6-n60-nonames-nan")]
    [InlineData("xgb-reg-d5-n100-nan")]
    public void A_batch_of_any_size_gives_each_row_the_reference_walks_values(string name)
    {
        // The AVX-512 path walks each tree over several blocks of sixteen rows, as many as the batch fills, and the
        // rest one row at a time: every size up to 130 rows (past an AddBars call's 128) meets each split of the rows.
        // The depth-5 and depth-6 models with missing values take the levels that gather, and their default children.
        using var model = (XgboostModel)Fixtures.Load(name);
        float[] rows = FeatureMatrixCsv.Read(Fixtures.Input(name)).ForModel(model);
        int f = model.FeatureCount, k = model.OutputCount;
        var reference = new float[k];
        for (int n = 1; n <= 130; n++)
        {
            int first = n % 7;  // batches start on different rows
            var batch = new float[n * k];
            model.PredictBatch(rows.AsSpan(first * f, n * f), batch);
            for (int r = 0; r < n; r++)
            {
                model.PredictReference(rows.AsSpan((first + r) * f, f), reference);
                Assert.True(reference.AsSpan().SequenceEqual(batch.AsSpan(r * k, k)), $"{name}: a batch of {n}, row {r}");
            }
        }
    }

    [Fact]
    public void The_avx512_path_serves_models_of_depth_six_or_less_where_the_processor_has_it()
    {
        using var bench = (XgboostModel)Fixtures.Load("bench-d6-n300-f40");
        using var lossguide = (XgboostModel)Fixtures.Load("xgb-lossguide-l64-n40-nan");
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported, bench.Ensemble.IsWide);
        Assert.False(lossguide.Ensemble.IsWide);
        // The models with missing values whose deeper levels gather (see the batch test above) take the path too.
        foreach (string name in (string[])["xgb-hist-d6-n60-nonames-nan", "xgb-reg-d5-n100-nan"])
        {
            using var model = (XgboostModel)Fixtures.Load(name);
            Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported, model.Ensemble.IsWide);
        }
    }

    [Fact]
    public void Deep_lossguide_trees_use_the_flat_walk_and_shallow_trees_the_complete_layout()
    {
        using var lossguide = (XgboostModel)Fixtures.Load("xgb-lossguide-l64-n40-nan");
        using var bench = (XgboostModel)Fixtures.Load("bench-d6-n300-f40");
        // The claim behind the agreement tests above: both layouts are exercised by the fixtures.
        Assert.InRange(lossguide.Ensemble.CompleteTrees, 0, lossguide.TreeCount - 1);
        Assert.Equal(bench.TreeCount, bench.Ensemble.CompleteTrees);
        Assert.Equal(300, bench.TreeCount);
    }

    [Fact]
    public void A_missing_value_goes_to_each_splits_default_child()
    {
        // Rows made entirely of missing values follow default_left at every split; the reference walk reads
        // default_left directly, the fast path through the expanded row copies.
        using var model = (XgboostModel)Fixtures.Load("xgb-reg-d5-n100-nan");
        var row = Enumerable.Repeat(float.NaN, model.FeatureCount).ToArray();
        float[] fast = new float[1], reference = new float[1];
        model.Predict(row, fast);
        model.PredictReference(row, reference);
        Assert.Equal(reference[0], fast[0]);
        row[0] = 0.25f;
        model.Predict(row, fast);
        model.PredictReference(row, reference);
        Assert.Equal(reference[0], fast[0]);
    }

    [Fact]
    public void Infinite_inputs_are_values_not_missing()
    {
        using var model = (XgboostModel)Fixtures.Load("xgb-cls-d4-n80");
        foreach (float v in (float[])[float.PositiveInfinity, float.NegativeInfinity])
        {
            var row = Enumerable.Repeat(v, model.FeatureCount).ToArray();
            float[] fast = new float[1], reference = new float[1];
            model.Predict(row, fast);
            model.PredictReference(row, reference);
            Assert.Equal(reference[0], fast[0]);
        }
    }

    [Fact]
    public void Predicting_one_row_allocates_nothing()
    {
        using Model model = Fixtures.Load("bench-d6-n300-f40");
        float[] row = FeatureMatrixCsv.Read(Fixtures.Input("bench-d6-n300-f40")).ForModel(model).AsSpan(0, model.FeatureCount).ToArray();
        var output = new float[1];
        // Several rounds, keeping the smallest: a one-off allocation by the runtime itself (tiered or on-stack
        // replacement compilation on this thread) may land in one round, an allocation per call lands in all.
        long least = long.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                model.Predict(row, output);
            }
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, least);
    }
}
