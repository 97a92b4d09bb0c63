using System.Text;
using System.Text.Json.Nodes;
using MarketIntel.Features.Io;
using MarketIntel.Inference.Io;

namespace MarketIntel.Inference.Tests;

/// <summary>Unsupported or malformed models and inputs are refused with a message naming the problem.</summary>
public sealed class ModelErrorTests
{
    private static JsonNode Base() => JsonNode.Parse(Fixtures.ModelBytes("xgb-logistic-d3-n60"))!;

    private static ModelFormatException LoadError(JsonNode model) =>
        Assert.Throws<ModelFormatException>(() => Model.Load(Encoding.UTF8.GetBytes(model.ToJsonString()), "m.json"));

    private static JsonNode Tree(JsonNode model, int t) => model["learner"]!["gradient_booster"]!["model"]!["trees"]![t]!;

    [Fact]
    public void An_unsupported_objective_is_named()
    {
        var model = Base();
        model["learner"]!["objective"]!["name"] = "rank:pairwise";
        var e = LoadError(model);
        Assert.StartsWith("m.json: objective 'rank:pairwise' is not supported (supported: binary:logistic,", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_linear_booster_is_refused()
    {
        var model = Base();
        model["learner"]!["gradient_booster"]!["name"] = "gblinear";
        Assert.Contains("booster 'gblinear' is not supported", LoadError(model).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_categorical_split_is_refused_naming_tree_and_node()
    {
        var model = Base();
        Tree(model, 2)["split_type"]![1] = 1;
        Assert.Contains("tree 2, node 1: categorical splits are not supported", LoadError(model).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_child_index_out_of_range_is_refused()
    {
        var model = Base();
        Tree(model, 0)["left_children"]![0] = 999;
        Assert.Contains("tree 0, node 0: child 999 is out of range", LoadError(model).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_child_pointing_back_to_its_parent_is_refused_rather_than_looping()
    {
        var model = Base();
        Tree(model, 0)["right_children"]![1] = 0;
        Assert.Contains("tree 0, node 1: child 0 is out of range", LoadError(model).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_split_on_a_feature_beyond_num_feature_is_refused()
    {
        var model = Base();
        Tree(model, 3)["split_indices"]![0] = 8;
        Assert.Contains("tree 3, node 0: split feature 8 is outside 0..7 (num_feature 8)", LoadError(model).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Node_arrays_of_different_lengths_are_refused()
    {
        var model = Base();
        ((JsonArray)Tree(model, 1)["split_conditions"]!).RemoveAt(0);
        Assert.Contains("tree 1: split_conditions has", LoadError(model).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_section_is_named_by_its_path()
    {
        var model = Base();
        model["learner"]!.AsObject().Remove("learner_model_param");
        Assert.Equal("m.json: missing learner.learner_model_param", LoadError(model).Message);
    }

    [Fact]
    public void A_multiclass_objective_without_classes_is_refused()
    {
        var model = Base();
        model["learner"]!["objective"]!["name"] = "multi:softprob";
        Assert.Contains("needs num_class >= 2", LoadError(model).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Broken_json_and_bytes_that_are_no_model_are_refused()
    {
        var json = Assert.Throws<ModelFormatException>(() => Model.Load("{\"learner\": "u8, "m.json"));
        Assert.Contains("m.json: not valid JSON", json.Message, StringComparison.Ordinal);
        var junk = Assert.Throws<ModelFormatException>(() => Model.Load("not a model at all"u8, "m.onnx"));
        Assert.StartsWith("m.onnx: not a model", junk.Message, StringComparison.Ordinal);
        Assert.Equal("m.onnx: empty model file", Assert.Throws<ModelFormatException>(() => Model.Load([], "m.onnx")).Message);
        Assert.EndsWith("no such file", Assert.Throws<ModelFormatException>(() => Model.LoadFile("/nonexistent/m.json")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Columns_are_matched_to_feature_names_and_extra_columns_are_ignored()
    {
        using Model model = Fixtures.Load("xgb-logistic-d3-n60");
        // Reversed column order plus an extra column: the model still gets x0..x7 in its own order.
        string[] names = [.. model.FeatureNames!.Reverse(), "extra"];
        string csv = string.Join(',', names) + "\n" + string.Join(',', Enumerable.Range(0, 8).Reverse().Select(i => (i * 0.5).ToString(System.Globalization.CultureInfo.InvariantCulture)).Append("99")) + "\n";
        float[] inputs = FeatureMatrixCsv.Parse(csv, "x.csv").ForModel(model);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => i * 0.5f).ToArray(), inputs);
    }

    [Fact]
    public void A_missing_feature_column_is_named()
    {
        using Model model = Fixtures.Load("xgb-logistic-d3-n60");
        var matrix = FeatureMatrixCsv.Parse("x0,x1,x2\n1,2,3\n", "x.csv");
        var e = Assert.Throws<DataFormatException>(() => matrix.ForModel(model));
        Assert.StartsWith("x.csv:1: the model's feature 'x3' is not a column", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_feature_names_the_column_count_must_match()
    {
        using Model model = Fixtures.Load("xgb-hist-d6-n60-nonames-nan");
        Assert.Null(model.FeatureNames);
        var e = Assert.Throws<DataFormatException>(() => FeatureMatrixCsv.Parse("a,b\n1,2\n", "x.csv").ForModel(model));
        Assert.Equal("x.csv:1: 2 columns, but the model takes 9 features by position (it has no feature names)", e.Message);
    }

    [Theory]
    [InlineData("a,b\n1,x\n", "x.csv:2:2: b: 'x' is not a number")]
    [InlineData("a,b\n1\n", "x.csv:2:2: short row: 1 cells, the header has 2")]
    [InlineData("a,b\n1,2,3\n", "x.csv:2:3: long row")]
    [InlineData("", "x.csv:1: empty file")]
    [InlineData("a,,b\n", "x.csv:1:2: empty column name")]
    public void Bad_matrix_cells_are_named_by_line_and_column(string csv, string message)
    {
        var e = Assert.Throws<DataFormatException>(() => FeatureMatrixCsv.Parse(csv, "x.csv"));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_cells_are_missing_values()
    {
        var matrix = FeatureMatrixCsv.Parse("a,b,c\n1,,3\n", "x.csv");
        Assert.Equal(1, matrix.Rows);
        Assert.True(float.IsNaN(matrix.Values[1]));
        Assert.Equal(3f, matrix.Values[2]);
    }

    [Fact]
    public void Wrongly_shaped_calls_are_argument_errors()
    {
        using Model model = Fixtures.Load("xgb-logistic-d3-n60");
        Assert.Throws<ArgumentException>(() => model.Predict(new float[7], new float[1]));
        Assert.Throws<ArgumentException>(() => model.PredictBatch(new float[17], new float[3]));
        Assert.Throws<ArgumentException>(() => model.PredictBatch(new float[16], new float[1]));
    }
}
