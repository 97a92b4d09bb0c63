using System.Globalization;
using System.Text.Json;

namespace MarketIntel.Inference.Xgboost;

/// <summary>
/// A gradient-boosted tree model written by XGBoost's <c>save_model("model.json")</c> (1.7 and later): gbtree or
/// dart boosters, depthwise or lossguide trees, numeric splits. Anything else is refused by name, never guessed.
/// </summary>
public sealed class XgboostModel : Model
{
    private readonly TreeEnsemble _ensemble;

    private XgboostModel(TreeEnsemble ensemble, XgboostObjective objective, string objectiveName, IReadOnlyList<string>? names, int features, IReadOnlyList<string> outputs)
        : base("xgboost", names, features, outputs)
    {
        _ensemble = ensemble;
        Objective = objective;
        ObjectiveName = objectiveName;
    }

    /// <summary>The objective as XGBoost names it, e.g. <c>binary:logistic</c>.</summary>
    public string ObjectiveName { get; }

    internal XgboostObjective Objective { get; }

    internal TreeEnsemble Ensemble => _ensemble;

    /// <summary>Number of trees.</summary>
    public int TreeCount => _ensemble.Trees;

    public override void Predict(ReadOnlySpan<float> features, Span<float> output)
    {
        CheckRow(features, output);
        Span<float> margins = stackalloc float[_ensemble.Classes];
        _ensemble.Margins(features, margins);
        XgboostObjectives.Transform(Objective, margins, output);
    }

    public override void PredictBatch(ReadOnlySpan<float> rows, Span<float> outputs) => PredictBatch(rows, outputs, allowWide: true);

    /// <summary>The batch prediction; <paramref name="allowWide"/> false keeps to the scalar walk (tests, benchmarks).</summary>
    internal void PredictBatch(ReadOnlySpan<float> rows, Span<float> outputs, bool allowWide)
    {
        int n = RowCount(rows, outputs);
        int k = _ensemble.Classes, o = OutputCount;
        if (k == 1 && o == 1)
        {
            // Margins land in the output buffer and are transformed in place.
            _ensemble.MarginsBatch(rows, n, outputs, allowWide);
            for (int r = 0; r < n; r++)
            {
                XgboostObjectives.Transform(Objective, outputs.Slice(r, 1), outputs.Slice(r, 1));
            }
            return;
        }
        const int Chunk = 1024;
        float[] margins = new float[Math.Min(n, Chunk) * k];
        for (int start = 0; start < n; start += Chunk)
        {
            int count = Math.Min(Chunk, n - start);
            _ensemble.MarginsBatch(rows.Slice(start * FeatureCount, count * FeatureCount), count, margins, allowWide);
            for (int r = 0; r < count; r++)
            {
                XgboostObjectives.Transform(Objective, margins.AsSpan(r * k, k), outputs.Slice((start + r) * o, o));
            }
        }
    }

    /// <summary>The plain reference walk over XGBoost's own node arrays (for tests and checks).</summary>
    internal void PredictReference(ReadOnlySpan<float> features, Span<float> output)
    {
        CheckRow(features, output);
        Span<float> margins = stackalloc float[_ensemble.Classes];
        _ensemble.ReferenceMargins(features, margins);
        XgboostObjectives.Transform(Objective, margins, output);
    }

    /// <summary>
    /// Parses XGBoost JSON; <paramref name="source"/> names the model in errors. A model with more trees, nodes
    /// or depth than <paramref name="limits"/> allows (default <see cref="ModelLimits.Default"/>) is refused.
    /// </summary>
    public static XgboostModel Parse(ReadOnlySpan<byte> json, string source, ModelLimits? limits = null)
    {
        limits ??= ModelLimits.Default;
        limits.Validate();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(source, $"not valid JSON ({e.Message})");
        }
        using (document)
        {
            return new Reader(source, limits).Read(document.RootElement);
        }
    }

    private sealed class Reader(string source, ModelLimits limits)
    {
        private ModelFormatException Error(string problem) => new(source, problem);

        public XgboostModel Read(JsonElement root)
        {
            JsonElement learner = Get(root, "learner", "learner");
            JsonElement param = Get(learner, "learner_model_param", "learner.learner_model_param");
            string objectiveName = GetString(Get(Get(learner, "objective", "learner.objective"), "name", "learner.objective.name"), "learner.objective.name");
            XgboostObjective objective = XgboostObjectives.FromName(objectiveName)
                ?? throw Error($"objective '{objectiveName}' is not supported (supported: {string.Join(", ", XgboostObjectives.Supported)})");

            int features = Count(param, "num_feature", 1);
            if (features > limits.MaxFeatures)
            {
                throw Error($"learner.learner_model_param.num_feature is {ModelLimits.Count(features)}, over the limit of {ModelLimits.Count(limits.MaxFeatures)} features");
            }
            int numClass = Count(param, "num_class", 0);
            if (param.TryGetProperty("num_target", out JsonElement targets) && Number(targets, "learner.learner_model_param.num_target") > 1)
            {
                throw Error("multi-target models (num_target > 1) are not supported");
            }
            bool multi = objective is XgboostObjective.MultiSoftprob or XgboostObjective.MultiSoftmax;
            if (multi && numClass < 2)
            {
                throw Error($"objective '{objectiveName}' needs num_class >= 2, the model says {numClass}");
            }
            if (!multi && numClass > 1)
            {
                throw Error($"objective '{objectiveName}' with num_class = {numClass} is not a supported combination");
            }
            int classes = multi ? numClass : 1;
            if (classes > limits.MaxOutputWidth)
            {
                // Checked before anything is sized by it: the base scores and every row's margins are.
                throw Error($"learner.learner_model_param.num_class is {ModelLimits.Count(classes)}, over the limit of {ModelLimits.Count(limits.MaxOutputWidth)} values a row");
            }
            float[] baseScores = BaseScores(param, classes);

            JsonElement booster = Get(learner, "gradient_booster", "learner.gradient_booster");
            string boosterName = GetString(Get(booster, "name", "learner.gradient_booster.name"), "learner.gradient_booster.name");
            JsonElement model;
            float[]? weights = null;
            switch (boosterName)
            {
                case "gbtree":
                    model = Get(booster, "model", "learner.gradient_booster.model");
                    break;
                case "dart":
                    model = Get(Get(booster, "gbtree", "learner.gradient_booster.gbtree"), "model", "learner.gradient_booster.gbtree.model");
                    weights = Floats(Get(booster, "weight_drop", "learner.gradient_booster.weight_drop"), "learner.gradient_booster.weight_drop");
                    break;
                default:
                    throw Error($"booster '{boosterName}' is not supported (supported: gbtree, dart)");
            }

            JsonElement treesJson = Get(model, "trees", "gradient_booster model.trees");
            int[] treeInfo = Ints(Get(model, "tree_info", "gradient_booster model.tree_info"), "tree_info");
            if (treesJson.ValueKind != JsonValueKind.Array)
            {
                throw Error("model.trees is not an array");
            }
            int treeCount = treesJson.GetArrayLength();
            if (treeCount > limits.MaxTrees)
            {
                throw Error($"{ModelLimits.Count(treeCount)} trees, over the limit of {ModelLimits.Count(limits.MaxTrees)} trees in a model");
            }
            if (treeInfo.Length != treeCount)
            {
                throw Error($"tree_info has {treeInfo.Length} entries for {treeCount} trees");
            }
            if (weights is not null && weights.Length != treeCount)
            {
                throw Error($"weight_drop has {weights.Length} entries for {treeCount} trees");
            }
            var trees = new List<RawTree>(treeCount);
            int t = 0;
            long totalNodes = 0;
            foreach (JsonElement tree in treesJson.EnumerateArray())
            {
                if (treeInfo[t] < 0 || treeInfo[t] >= classes)
                {
                    throw Error($"tree {t}: tree_info class {treeInfo[t]} is outside 0..{classes - 1}");
                }
                RawTree raw = Tree(tree, t, features, treeInfo[t], weights?[t] ?? 1.0f);
                totalNodes += raw.Nodes;
                if (totalNodes > limits.MaxTotalNodes)
                {
                    throw Error($"trees 0..{t} have {ModelLimits.Count(totalNodes)} nodes, over the limit of {ModelLimits.Count(limits.MaxTotalNodes)} nodes in all trees");
                }
                trees.Add(raw);
                t++;
            }

            string[]? names = null;
            if (learner.TryGetProperty("feature_names", out JsonElement namesJson) && namesJson.ValueKind == JsonValueKind.Array && namesJson.GetArrayLength() > 0)
            {
                names = namesJson.EnumerateArray().Select(n => GetString(n, "learner.feature_names")).ToArray();
                if (names.Length != features)
                {
                    throw Error($"learner.feature_names has {names.Length} names, num_feature says {features}");
                }
                string? twice = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1)?.Key;
                if (twice is not null)
                {
                    throw Error($"feature name '{twice}' appears twice in learner.feature_names");
                }
            }
            float[] baseMargins = baseScores.Select(b => XgboostObjectives.BaseMargin(objective, b)).ToArray();
            if (baseMargins.Any(m => !float.IsFinite(m)))
            {
                throw Error($"base_score {string.Join(",", baseScores)} has no finite margin under '{objectiveName}'");
            }
            string[] outputs = XgboostObjectives.OutputCount(objective, classes) == 1
                ? ["prediction"]
                : Enumerable.Range(0, classes).Select(k => $"prob_{k}").ToArray();
            return new XgboostModel(new TreeEnsemble(trees, features, baseMargins), objective, objectiveName, names, features, outputs);
        }

        private RawTree Tree(JsonElement tree, int t, int features, int cls, float weight)
        {
            string at = $"tree {t}";
            int[] left = Ints(Get(tree, "left_children", $"{at}: left_children"), $"{at}: left_children");
            int[] right = Ints(Get(tree, "right_children", $"{at}: right_children"), $"{at}: right_children");
            int[] feature = Ints(Get(tree, "split_indices", $"{at}: split_indices"), $"{at}: split_indices");
            float[] threshold = Floats(Get(tree, "split_conditions", $"{at}: split_conditions"), $"{at}: split_conditions");
            int[] defaults = Ints(Get(tree, "default_left", $"{at}: default_left"), $"{at}: default_left");
            int n = left.Length;
            if (n == 0)
            {
                throw Error($"{at} has no nodes");
            }
            if (n > limits.MaxTreeNodes)
            {
                throw Error($"{at} has {ModelLimits.Count(n)} nodes, over the limit of {ModelLimits.Count(limits.MaxTreeNodes)} nodes in one tree");
            }
            foreach (var (name, length) in new[] { ("right_children", right.Length), ("split_indices", feature.Length), ("split_conditions", threshold.Length), ("default_left", defaults.Length) })
            {
                if (length != n)
                {
                    throw Error($"{at}: {name} has {length} entries, left_children has {n}");
                }
            }
            if (tree.TryGetProperty("split_type", out JsonElement types))
            {
                int[] splitTypes = Ints(types, $"{at}: split_type");
                int categorical = Array.FindIndex(splitTypes, s => s != 0);
                if (categorical >= 0)
                {
                    throw Error($"{at}, node {categorical}: categorical splits are not supported");
                }
            }
            var parents = new int[n];
            for (int i = 0; i < n; i++)
            {
                bool leaf = left[i] == -1;
                if (leaf != (right[i] == -1))
                {
                    throw Error($"{at}, node {i}: one child is -1 and the other is not");
                }
                if (!float.IsFinite(threshold[i]))
                {
                    throw Error($"{at}, node {i}: {(leaf ? "leaf value" : "split condition")} {threshold[i]} is not finite");
                }
                if (leaf)
                {
                    continue;
                }
                foreach (int child in (ReadOnlySpan<int>)[left[i], right[i]])
                {
                    // XGBoost numbers children after their parent; holding to that rules out cycles.
                    if (child <= i || child >= n)
                    {
                        throw Error($"{at}, node {i}: child {child} is out of range (must be after the node and below {n})");
                    }
                    if (++parents[child] > 1)
                    {
                        throw Error($"{at}, node {child} has more than one parent");
                    }
                }
                if (feature[i] < 0 || feature[i] >= features)
                {
                    throw Error($"{at}, node {i}: split feature {feature[i]} is outside 0..{features - 1} (num_feature {features})");
                }
            }
            for (int i = 1; i < n; i++)
            {
                if (parents[i] == 0)
                {
                    throw Error($"{at}, node {i} is not reachable from the root");
                }
            }
            var raw = new RawTree(left, right, feature, threshold, defaults.Select(d => d != 0).ToArray(), cls, weight);
            if (raw.Depth > limits.MaxTreeDepth)
            {
                throw Error($"{at} is {ModelLimits.Count(raw.Depth)} splits deep, over the limit of {ModelLimits.Count(limits.MaxTreeDepth)} on a tree's depth");
            }
            return raw;
        }

        private float[] BaseScores(JsonElement param, int classes)
        {
            if (!param.TryGetProperty("base_score", out JsonElement element))
            {
                return Enumerable.Repeat(0.5f, classes).ToArray();
            }
            // 1.7 writes "5E-1"; 2.x and 3.x may write a vector "[5E-1]" or one value per class.
            string text = GetString(element, "learner.learner_model_param.base_score").Trim();
            string[] parts = text.TrimStart('[').TrimEnd(']').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var values = new float[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
                {
                    throw Error($"learner.learner_model_param.base_score '{text}' is not a number");
                }
            }
            return values.Length switch
            {
                1 => Enumerable.Repeat(values[0], classes).ToArray(),
                _ when values.Length == classes => values,
                _ => throw Error($"learner.learner_model_param.base_score has {values.Length} values for {classes} classes"),
            };
        }

        private int Count(JsonElement param, string name, int minimum)
        {
            string path = $"learner.learner_model_param.{name}";
            long value = Number(Get(param, name, path), path);
            if (value < minimum || value > int.MaxValue)
            {
                throw Error($"{path} is {value}, expected at least {minimum}");
            }
            return (int)value;
        }

        // XGBoost writes model parameters as strings ("10") and array entries as numbers.
        private long Number(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out long n))
            {
                return n;
            }
            if (element.ValueKind == JsonValueKind.String && long.TryParse(element.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out n))
            {
                return n;
            }
            throw Error($"{path} is not a whole number ({element.GetRawText()})");
        }

        private JsonElement Get(JsonElement parent, string name, string path) =>
            parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out JsonElement value)
                ? value
                : throw Error($"missing {path}");

        private string GetString(JsonElement element, string path) =>
            element.ValueKind == JsonValueKind.String ? element.GetString()! : throw Error($"{path} is not a string");

        private int[] Ints(JsonElement array, string path)
        {
            if (array.ValueKind != JsonValueKind.Array)
            {
                throw Error($"{path} is not an array");
            }
            var values = new int[array.GetArrayLength()];
            int i = 0;
            foreach (JsonElement e in array.EnumerateArray())
            {
                values[i++] = e.ValueKind switch
                {
                    JsonValueKind.True => 1,
                    JsonValueKind.False => 0,
                    JsonValueKind.Number when e.TryGetInt32(out int v) => v,
                    _ => throw Error($"{path}[{i - 1}] is not an integer ({e.GetRawText()})"),
                };
            }
            return values;
        }

        private float[] Floats(JsonElement array, string path)
        {
            if (array.ValueKind != JsonValueKind.Array)
            {
                throw Error($"{path} is not an array");
            }
            var values = new float[array.GetArrayLength()];
            int i = 0;
            foreach (JsonElement e in array.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetSingle(out values[i]))
                {
                    throw Error($"{path}[{i}] is not a number ({e.GetRawText()})");
                }
                i++;
            }
            return values;
        }
    }
}
