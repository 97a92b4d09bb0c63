using System.Globalization;
using MarketIntel.Inference;

namespace MarketIntel.Tests;

/// <summary>Small XGBoost JSON models written by hand: one stump per feature.</summary>
internal static class HandModels
{
    /// <summary>
    /// A model of one stump per feature name (stump <c>i</c> splits feature <c>i</c> at <c>thresholds[i]</c> into the
    /// leaves <c>leaves[i]</c>), under <paramref name="objective"/> (<c>binary:logistic</c>: a probability;
    /// <c>reg:squarederror</c>: the leaves' sum).
    /// </summary>
    public static byte[] Stumps(string[] names, float[] thresholds, (float Left, float Right)[] leaves, out Model model, string objective = "binary:logistic")
    {
        string Number(float value) => value.ToString("R", CultureInfo.InvariantCulture);
        string Tree(int id) => $$$"""
            {"id":{{{id}}},"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[{{{id}}},0,0],
             "split_conditions":[{{{Number(thresholds[id])}}},{{{Number(leaves[id].Left)}}},{{{Number(leaves[id].Right)}}}],
             "default_left":[1,0,0],"split_type":[0,0,0],"tree_param":{"num_nodes":"3","num_feature":"{{{names.Length}}}"}}
            """;
        string featureNames = string.Join(",", names.Select(n => "\"" + n + "\""));
        string trees = string.Join(",", Enumerable.Range(0, names.Length).Select(Tree));
        string treeInfo = string.Join(",", names.Select(_ => "0"));
        string baseScore = objective == "binary:logistic" ? "5E-1" : "0E0";
        string json =
            "{\"version\":[1,7,4],\"learner\":{\"feature_names\":[" + featureNames + "]," +
            $"\"learner_model_param\":{{\"base_score\":\"{baseScore}\",\"num_class\":\"0\",\"num_feature\":\"{names.Length}\",\"num_target\":\"1\"}}," +
            "\"objective\":{\"name\":\"" + objective + "\"}," +
            "\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"tree_info\":[" + treeInfo + "],\"trees\":[" + trees + "]}}}}";
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(json);
        model = Model.Load(bytes, "hand");
        return bytes;
    }
}
