using System.Globalization;
using System.Text.Json;

namespace MarketIntel.Training;

/// <summary>One regression tree in XGBoost's array layout: node 0 the root, children appended as nodes are split.</summary>
public sealed class RegressionTree
{
    internal readonly List<int> Left = [];
    internal readonly List<int> Right = [];
    internal readonly List<int> Parent = [];
    internal readonly List<int> Feature = [];
    internal readonly List<int> SplitBin = [];          // left: bins 1..SplitBin (0 is missing, see DefaultLeft)
    internal readonly List<float> Condition = [];       // split: go left when x < Condition; leaf: its value
    internal readonly List<bool> DefaultLeft = [];
    internal readonly List<float> Gain = [];
    internal readonly List<float> Hessian = [];
    internal readonly List<float> Weight = [];          // the node's unscaled weight (XGBoost's base_weights)

    public int Nodes => Left.Count;

    internal int Add(int parent, double h, double weight)
    {
        Left.Add(-1);
        Right.Add(-1);
        Parent.Add(parent);
        Feature.Add(0);
        SplitBin.Add(0);
        Condition.Add(0);
        DefaultLeft.Add(false);
        Gain.Add(0);
        Hessian.Add((float)h);
        Weight.Add((float)weight);
        return Left.Count - 1;
    }

    /// <summary>The leaf value for a row of raw feature values (NaN = missing).</summary>
    public float Predict(ReadOnlySpan<float> row)
    {
        int node = 0;
        while (Left[node] >= 0)
        {
            float v = row[Feature[node]];
            node = float.IsNaN(v) ? (DefaultLeft[node] ? Left[node] : Right[node]) : v < Condition[node] ? Left[node] : Right[node];
        }
        return Condition[node];
    }

    /// <summary>The leaf value for training row <paramref name="row"/> of its quantized matrix.</summary>
    internal float Predict(QuantizedMatrix matrix, int row)
    {
        int node = 0;
        while (Left[node] >= 0)
        {
            int bin = matrix.Bin(row, Feature[node]);
            node = bin == 0 ? (DefaultLeft[node] ? Left[node] : Right[node]) : bin <= SplitBin[node] ? Left[node] : Right[node];
        }
        return Condition[node];
    }
}

/// <summary>A trained gradient-boosted tree ensemble; writes itself in XGBoost's JSON model format.</summary>
public sealed class BoostedTrees
{
    internal BoostedTrees(BoostParameters parameters, IReadOnlyList<string> featureNames, float baseScore, List<RegressionTree> trees)
    {
        Parameters = parameters;
        FeatureNames = featureNames;
        BaseScore = baseScore;
        Trees = trees;
    }

    public BoostParameters Parameters { get; }

    public IReadOnlyList<string> FeatureNames { get; }

    /// <summary>XGBoost's base_score: the prediction before any tree (a probability for binary:logistic).</summary>
    public float BaseScore { get; }

    public IReadOnlyList<RegressionTree> Trees { get; }

    /// <summary>The raw score: the base margin plus every tree's leaf.</summary>
    public double Margin(ReadOnlySpan<float> row)
    {
        double margin = BaseMargin(Parameters, BaseScore);
        foreach (RegressionTree tree in Trees)
        {
            margin += tree.Predict(row);
        }
        return margin;
    }

    /// <summary>The prediction: a probability for binary:logistic, the value for reg:squarederror.</summary>
    public double Predict(ReadOnlySpan<float> row)
    {
        double margin = Margin(row);
        return Parameters.IsBinary ? 1 / (1 + Math.Exp(-margin)) : margin;
    }

    internal static double BaseMargin(BoostParameters parameters, float baseScore) =>
        parameters.IsBinary ? Math.Log(baseScore / (1.0 - baseScore)) : baseScore;

    /// <summary>Writes the model as XGBoost 1.7 writes <c>save_model("x.json")</c>: XGBoost and this project's inference load it.</summary>
    public void WriteXgboostJson(Stream stream)
    {
        using var json = new Utf8JsonWriter(stream);
        string Int(int v) => v.ToString(CultureInfo.InvariantCulture);
        json.WriteStartObject();
        json.WriteStartObject("learner");
        json.WriteStartObject("attributes");
        json.WriteEndObject();
        json.WriteStartArray("feature_names");
        foreach (string name in FeatureNames)
        {
            json.WriteStringValue(name);
        }
        json.WriteEndArray();
        json.WriteStartArray("feature_types");
        json.WriteEndArray();
        json.WriteStartObject("gradient_booster");
        json.WriteStartObject("model");
        json.WriteStartObject("gbtree_model_param");
        json.WriteString("num_parallel_tree", "1");
        json.WriteString("num_trees", Int(Trees.Count));
        json.WriteString("size_leaf_vector", "0");
        json.WriteEndObject();
        json.WriteStartArray("tree_info");
        for (int i = 0; i < Trees.Count; i++)
        {
            json.WriteNumberValue(0);
        }
        json.WriteEndArray();
        json.WriteStartArray("trees");
        for (int t = 0; t < Trees.Count; t++)
        {
            WriteTree(json, Trees[t], t, FeatureNames.Count);
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteString("name", "gbtree");
        json.WriteEndObject();
        json.WriteStartObject("learner_model_param");
        json.WriteString("base_score", BaseScore.ToString("E8", CultureInfo.InvariantCulture));
        json.WriteString("boost_from_average", "1");
        json.WriteString("num_class", "0");
        json.WriteString("num_feature", Int(FeatureNames.Count));
        json.WriteString("num_target", "1");
        json.WriteEndObject();
        json.WriteStartObject("objective");
        json.WriteString("name", Parameters.Objective);
        json.WriteStartObject("reg_loss_param");
        json.WriteString("scale_pos_weight", "1");
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteStartArray("version");
        json.WriteNumberValue(1);
        json.WriteNumberValue(7);
        json.WriteNumberValue(4);
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteTree(Utf8JsonWriter json, RegressionTree tree, int id, int features)
    {
        void Ints(string name, IEnumerable<int> values)
        {
            json.WriteStartArray(name);
            foreach (int v in values)
            {
                json.WriteNumberValue(v);
            }
            json.WriteEndArray();
        }
        void Floats(string name, IEnumerable<float> values)
        {
            // XGBoost's JSON reader tells floats from integers by their text: a float always gets a point or exponent.
            json.WriteStartArray(name);
            foreach (float v in values)
            {
                string text = v.ToString("R", CultureInfo.InvariantCulture);
                json.WriteRawValue(text.AsSpan().IndexOfAny('.', 'E', 'e') >= 0 ? text : text + ".0", skipInputValidation: true);
            }
            json.WriteEndArray();
        }
        json.WriteStartObject();
        Floats("base_weights", tree.Weight);
        Ints("categories", []);
        Ints("categories_nodes", []);
        Ints("categories_segments", []);
        Ints("categories_sizes", []);
        Ints("default_left", tree.DefaultLeft.Select(d => d ? 1 : 0));
        json.WriteNumber("id", id);
        Ints("left_children", tree.Left);
        Floats("loss_changes", tree.Gain);
        Ints("parents", tree.Parent.Select(p => p < 0 ? int.MaxValue : p));
        Ints("right_children", tree.Right);
        Floats("split_conditions", tree.Condition);
        Ints("split_indices", tree.Feature);
        Ints("split_type", tree.Left.Select(_ => 0));
        Floats("sum_hessian", tree.Hessian);
        json.WriteStartObject("tree_param");
        json.WriteString("num_deleted", "0");
        json.WriteString("num_feature", features.ToString(CultureInfo.InvariantCulture));
        json.WriteString("num_nodes", tree.Nodes.ToString(CultureInfo.InvariantCulture));
        json.WriteString("size_leaf_vector", "0");
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
