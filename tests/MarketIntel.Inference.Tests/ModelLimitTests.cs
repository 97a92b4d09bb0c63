using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using MarketIntel.Inference.Xgboost;

namespace MarketIntel.Inference.Tests;

/// <summary>Models are client input: each cost a model can drive has a ceiling, and a model over one is refused naming it.</summary>
public sealed class ModelLimitTests
{
    private const string TreesPlaceholder = "\"trees-go-here\"";

    /// <summary>
    /// The logistic fixture with its trees replaced by <paramref name="trees"/> (JSON text, all of class 0).
    /// Written as text: half a million nodes as JSON nodes would take the test far longer than the model.
    /// </summary>
    private static byte[] WithTrees(IReadOnlyList<string> trees)
    {
        var model = JsonNode.Parse(Fixtures.ModelBytes("xgb-logistic-d3-n60"))!;
        var booster = model["learner"]!["gradient_booster"]!["model"]!;
        booster["trees"] = "trees-go-here";
        booster["tree_info"] = new JsonArray(trees.Select(_ => (JsonNode)0).ToArray());
        booster["gbtree_model_param"]!["num_trees"] = trees.Count.ToString(CultureInfo.InvariantCulture);
        string text = model.ToJsonString();
        return Encoding.UTF8.GetBytes(text.Replace(TreesPlaceholder, "[" + string.Join(',', trees) + "]", StringComparison.Ordinal));
    }

    /// <summary>
    /// A tree as XGBoost writes it: node arrays, a leaf where left is -1 (its value in split_conditions);
    /// every split is on feature 0 at 0.5 and leaf i is worth i / 1000.
    /// </summary>
    private static string Tree(int[] left, int[] right)
    {
        int n = left.Length;
        var json = new StringBuilder();
        json.Append("{\"left_children\":[").AppendJoin(',', left)
            .Append("],\"right_children\":[").AppendJoin(',', right)
            .Append("],\"split_indices\":[").AppendJoin(',', Enumerable.Repeat(0, n))
            .Append("],\"split_conditions\":[").AppendJoin(',', Enumerable.Range(0, n).Select(i => left[i] < 0 ? (i / 1000.0).ToString(CultureInfo.InvariantCulture) : "0.5"))
            .Append("],\"default_left\":[").AppendJoin(',', Enumerable.Repeat(1, n))
            .Append("]}");
        return json.ToString();
    }

    private static string Leaf() => Tree([-1], [-1]);

    /// <summary>
    /// A chain <paramref name="depth"/> splits deep: split 2k sends x &lt; 0.5 to leaf 2k+1 and the rest on to
    /// node 2k+2, children numbered after their parent as XGBoost numbers them; the last node is a leaf.
    /// </summary>
    private static byte[] Chain(int depth)
    {
        int n = (2 * depth) + 1;
        var left = new int[n];
        var right = new int[n];
        Array.Fill(left, -1);
        Array.Fill(right, -1);
        for (int k = 0; k < depth; k++)
        {
            left[2 * k] = (2 * k) + 1;
            right[2 * k] = (2 * k) + 2;
        }
        return WithTrees([Tree(left, right)]);
    }

    private static ModelFormatException Refused(byte[] bytes, ModelLimits? limits = null) =>
        Assert.Throws<ModelFormatException>(() => Model.Load(bytes, "m.json", limits));

    [Fact]
    public void A_model_over_the_size_limit_is_refused_before_it_is_parsed()
    {
        byte[] bytes = Fixtures.ModelBytes("xgb-logistic-d3-n60");
        var limits = ModelLimits.Default with { MaxModelBytes = bytes.Length - 1 };
        Assert.Equal(
            $"m.json: the model is {ModelLimits.Count(bytes.Length)} bytes, over the limit of {ModelLimits.Count(bytes.Length - 1)} bytes on a model's size",
            Refused(bytes, limits).Message);
        // Junk of the same size gets the same answer: the size is checked first.
        Assert.Contains("over the limit of", Refused(new byte[bytes.Length], limits).Message, StringComparison.Ordinal);
        using Model atTheLimit = Model.Load(bytes, "m.json", limits with { MaxModelBytes = bytes.Length });
        Assert.Equal(8, atTheLimit.FeatureCount);
    }

    [Fact]
    public void The_default_size_limit_is_64_MiB_and_a_file_over_it_is_not_read()
    {
        Assert.Equal(64L << 20, ModelLimits.Default.MaxModelBytes);
        string path = Path.Combine(Path.GetTempPath(), $"marketintel-big-{Guid.NewGuid():N}.json");
        try
        {
            using (var file = File.Create(path))
            {
                file.SetLength((64L << 20) + 1);   // sparse on most file systems: nothing is written
            }
            var e = Assert.Throws<ModelFormatException>(() => Model.LoadFile(path));
            Assert.EndsWith("the model is 67,108,865 bytes, over the limit of 67,108,864 bytes on a model's size", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void More_features_than_the_limit_are_refused_in_either_format()
    {
        var limits = ModelLimits.Default with { MaxFeatures = 7 };
        Assert.Equal(
            "m.json: learner.learner_model_param.num_feature is 8, over the limit of 7 features",
            Refused(Fixtures.ModelBytes("xgb-logistic-d3-n60"), limits).Message);
        var onnx = Assert.Throws<ModelFormatException>(() => Model.Load(Fixtures.ModelBytes("onnx-mlp-8"), "m.onnx", limits));
        Assert.Equal("m.onnx: input 'features' takes 8 features, over the limit of 7", onnx.Message);
        Assert.Equal(65_536, ModelLimits.Default.MaxFeatures);
    }

    [Fact]
    public void More_classes_than_values_a_row_may_have_are_refused_before_anything_is_sized_by_them()
    {
        // Two billion classes: the base scores alone would be 8 GB.
        var model = JsonNode.Parse(Fixtures.ModelBytes("xgb-multi3-d4-n40-nan"))!;
        model["learner"]!["learner_model_param"]!["num_class"] = "2000000000";
        Assert.Equal(
            "m.json: learner.learner_model_param.num_class is 2,000,000,000, over the limit of 1,024 values a row",
            Refused(Encoding.UTF8.GetBytes(model.ToJsonString())).Message);
    }

    [Fact]
    public void A_limit_that_is_not_positive_is_a_configuration_error()
    {
        byte[] bytes = Fixtures.ModelBytes("xgb-logistic-d3-n60");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Model.Load(bytes, "m.json", ModelLimits.Default with { MaxTrees = 0 }));
        Assert.Equal("MaxTrees", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Model.Load(bytes, "m.json", ModelLimits.Default with { OnnxRunBudget = TimeSpan.Zero }));
    }

    [Fact]
    public void A_chain_half_a_million_splits_deep_is_refused_naming_the_depth_limit_instead_of_overflowing_the_stack()
    {
        // Before: the depth was measured by recursion, one frame per level, and this chain crashed the process.
        var e = Refused(Chain(500_000));
        Assert.Equal("m.json: tree 0 is 500,000 splits deep, over the limit of 1,024 on a tree's depth", e.Message);
    }

    [Fact]
    public void Under_limits_that_allow_it_the_deep_chain_loads_and_predicts_by_the_flat_walk()
    {
        var limits = ModelLimits.Default with { MaxTreeDepth = 1_000_000 };
        using var model = (XgboostModel)Model.Load(Chain(500_000), "m.json", limits);
        Assert.Equal(0, model.Ensemble.CompleteTrees);
        // Below 0.5 the walk ends at leaf 1; above, it runs the whole chain to leaf 1,000,000.
        float[] below = new float[8], above = Enumerable.Repeat(1f, 8).ToArray();
        float[] margins = new float[2];
        model.Ensemble.ReferenceMargins(below, margins.AsSpan(0, 1));
        model.Ensemble.ReferenceMargins(above, margins.AsSpan(1, 1));
        Assert.Equal(1000 - 0.001, margins[1] - margins[0], 0.01);
        float[] fast = new float[1], reference = new float[1];
        foreach (float[] row in (float[][])[below, above])
        {
            model.Predict(row, fast);
            model.PredictReference(row, reference);
            Assert.Equal(reference[0], fast[0]);
        }
    }

    [Fact]
    public void A_tree_with_more_nodes_than_the_limit_is_refused()
    {
        var e = Refused(Chain(10), ModelLimits.Default with { MaxTreeNodes = 20 });
        Assert.Equal("m.json: tree 0 has 21 nodes, over the limit of 20 nodes in one tree", e.Message);
    }

    [Fact]
    public void Trees_with_more_nodes_together_than_the_limit_are_refused()
    {
        byte[] bytes = Fixtures.ModelBytes("xgb-logistic-d3-n60");
        var e = Refused(bytes, ModelLimits.Default with { MaxTotalNodes = 100 });
        Assert.Matches(@"^m\.json: trees 0\.\.\d+ have \d+ nodes, over the limit of 100 nodes in all trees$", e.Message);
    }

    [Fact]
    public void More_trees_than_the_default_limit_of_ten_thousand_are_refused()
    {
        var e = Refused(WithTrees(Enumerable.Repeat(Leaf(), 10_001).ToArray()));
        Assert.Equal("m.json: 10,001 trees, over the limit of 10,000 trees in a model", e.Message);
        using Model atTheLimit = Model.Load(WithTrees(Enumerable.Repeat(Leaf(), 10_000).ToArray()), "m.json");
        Assert.Equal(10_000, ((XgboostModel)atTheLimit).TreeCount);
    }

    [Fact]
    public void Json_nested_deeper_than_64_levels_is_refused_by_the_parser()
    {
        string deep = "{\"learner\": " + new string('[', 70) + new string(']', 70) + "}";
        var e = Refused(Encoding.UTF8.GetBytes(deep));
        Assert.StartsWith("m.json: not valid JSON", e.Message, StringComparison.Ordinal);
        Assert.Contains("64", e.Message, StringComparison.Ordinal);
    }
}
