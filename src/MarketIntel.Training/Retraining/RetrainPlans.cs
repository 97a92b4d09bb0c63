using System.Text.Json;
using MarketIntel.Features;

namespace MarketIntel.Training.Retraining;

/// <summary>
/// Builds a <see cref="RetrainPlan"/> from a registered version's lineage JSON (the registry's string): what
/// <c>train</c>, <c>backtest</c> and a retraining job write, or a hand-made lineage such as the demo's.
/// <list type="bullet">
/// <item>spec: the request's override, else the lineage's <c>spec</c>, else its <c>features</c> joined with ',';</item>
/// <item>label: the request's override (<c>up_K</c>, <c>logret_K</c>), else the lineage's <c>label</c> (<c>kind</c> and <c>horizon</c>);</item>
/// <item>booster parameters: the lineage's <c>parameters</c> (by the names lineages write them); a key it lacks, or a
/// lineage without them, takes <see cref="BoostParameters.ForLabel"/>'s value. The objective always fits the label
/// trained for, so a label override changes it; the lineage's own objective must fit the lineage's own label.</item>
/// </list>
/// Every error is an <see cref="ArgumentException"/> naming the model, the version and the field at fault.
/// </summary>
public static class RetrainPlans
{
    /// <summary>The walk-forward folds a job validates on unless configured otherwise.</summary>
    public const int DefaultFolds = 5;

    /// <summary>
    /// The plan to retrain model <paramref name="name"/>, whose served version <paramref name="version"/> has
    /// <paramref name="lineage"/> (both null when nothing is served: then the overrides must give the spec and the label).
    /// </summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version the new one would replace (the plan's <see cref="RetrainPlan.Replaces"/>), or null.</param>
    /// <param name="lineage">That version's lineage JSON, or null.</param>
    /// <param name="spec">A feature spec to train with instead of the lineage's, or null.</param>
    /// <param name="label">A label (<c>up_K</c>, <c>logret_K</c>) to train for instead of the lineage's, or null.</param>
    /// <param name="folds">Walk-forward folds.</param>
    /// <param name="profileBins">Quantile bins per series of the new version's reference profile.</param>
    /// <param name="tool">The new lineage's <c>tool</c>.</param>
    /// <exception cref="ArgumentException">The lineage or an override is unusable; the message names the field.</exception>
    public static RetrainPlan FromLineage(string name, string? version, string? lineage, string? spec, string? label, int folds, int profileBins, string tool)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(tool);
        string model = version is null ? $"model '{name}'" : $"model '{name}' version {version}";
        LabelDefinition? labelOverride = label is null ? null
            : LabelDefinition.TryParse(label, out LabelDefinition parsed) ? parsed
            : throw new ArgumentException($"{model}: label '{label}' (the request's) is not up_K or logret_K with K a whole number of bars ahead, at least 1");
        if (spec is not null)
        {
            Features(spec, $"{model}: spec (the request's)");
        }
        if (lineage is null)
        {
            if (spec is null || labelOverride is null)
            {
                throw new ArgumentException($"{model} has no lineage to take the {(spec is null ? "spec" : "label")} from: the request must give both spec and label");
            }
            return new RetrainPlan(name, spec, labelOverride.Value, BoostParameters.ForLabel(labelOverride.Value.Kind), folds, profileBins, version, tool);
        }

        string where = $"lineage of {model}";
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(lineage);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{where} is not JSON ({e.Message})", e);
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ArgumentException($"{where} is not a JSON object");
            }
            LabelDefinition own = ReadLabel(root, where);
            LabelDefinition trained = labelOverride ?? own;
            string chosen = spec ?? ReadSpec(root, where);
            BoostParameters parameters = ReadParameters(root, where, own, trained);
            return new RetrainPlan(name, chosen, trained, parameters, folds, profileBins, version, tool);
        }
    }

    private static FeatureSet Features(string spec, string where)
    {
        try
        {
            return FeatureSet.Parse(spec);
        }
        catch (FeatureSpecException e)
        {
            throw new ArgumentException($"{where} '{spec}' is not a feature spec: {e.Message}", e);
        }
    }

    private static LabelDefinition ReadLabel(JsonElement root, string where)
    {
        try
        {
            return LabelDefinition.FromLineage(root);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"{where}: {e.Message}", e);
        }
    }

    // The spec: the lineage's own where it has one (then its features must be the spec's), else its feature names.
    private static string ReadSpec(JsonElement root, string where)
    {
        string[]? features = null;
        if (root.TryGetProperty("features", out JsonElement array) && array.ValueKind != JsonValueKind.Null)
        {
            features = array.ValueKind == JsonValueKind.Array && array.EnumerateArray().All(f => f.ValueKind == JsonValueKind.String)
                ? [.. array.EnumerateArray().Select(f => f.GetString()!)]
                : throw new ArgumentException($"{where}: field 'features' must be an array of feature names");
        }
        if (root.TryGetProperty("spec", out JsonElement spec) && spec.ValueKind != JsonValueKind.Null)
        {
            string text = spec.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(spec.GetString())
                ? spec.GetString()!
                : throw new ArgumentException($"{where}: field 'spec' must be a feature spec (a string) or null");
            FeatureSet set = Features(text, $"{where}: field 'spec'");
            if (features is not null && !set.Names.SequenceEqual(features, StringComparer.Ordinal))
            {
                throw new ArgumentException($"{where}: field 'features' ({string.Join(", ", features)}) is not what field 'spec' computes ({string.Join(", ", set.Names)})");
            }
            return text;
        }
        if (features is null || features.Length == 0)
        {
            throw new ArgumentException($"{where}: neither field 'spec' nor field 'features' names the model's features");
        }
        string joined = string.Join(',', features);
        Features(joined, $"{where}: field 'features'");
        return joined;
    }

    // The booster's parameters as the lineage names them; what it lacks from the defaults; the objective from the label.
    private static BoostParameters ReadParameters(JsonElement root, string where, LabelDefinition own, LabelDefinition trained)
    {
        BoostParameters parameters = BoostParameters.ForLabel(trained.Kind);
        if (!root.TryGetProperty("parameters", out JsonElement given) || given.ValueKind == JsonValueKind.Null)
        {
            return parameters;
        }
        if (given.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"{where}: field 'parameters' must be an object of the booster's parameters");
        }
        if (given.TryGetProperty("objective", out JsonElement objective))
        {
            string fits = BoostParameters.ObjectiveFor(own.Kind);
            if (objective.ValueKind != JsonValueKind.String || objective.GetString() != fits)
            {
                throw new ArgumentException($"{where}: field 'parameters.objective' ({objective}) does not fit label {own.Name}, which needs {fits}");
            }
        }
        double Number(string key, double fallback)
        {
            if (!given.TryGetProperty(key, out JsonElement value))
            {
                return fallback;
            }
            return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double number) ? number
                : throw new ArgumentException($"{where}: field 'parameters.{key}' ({value}) must be a number");
        }
        int Whole(string key, int fallback)
        {
            if (!given.TryGetProperty(key, out JsonElement value))
            {
                return fallback;
            }
            return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number) ? number
                : throw new ArgumentException($"{where}: field 'parameters.{key}' ({value}) must be a whole number");
        }
        parameters = parameters with
        {
            Rounds = Whole("rounds", parameters.Rounds),
            MaxDepth = Whole("maxDepth", parameters.MaxDepth),
            Eta = Number("eta", parameters.Eta),
            MinChildWeight = Number("minChildWeight", parameters.MinChildWeight),
            Lambda = Number("lambda", parameters.Lambda),
            Alpha = Number("alpha", parameters.Alpha),
            Gamma = Number("gamma", parameters.Gamma),
            Subsample = Number("subsample", parameters.Subsample),
            ColsampleBytree = Number("colsampleBytree", parameters.ColsampleBytree),
            MaxBin = Whole("maxBin", parameters.MaxBin),
            Seed = Whole("seed", parameters.Seed),
        };
        try
        {
            parameters.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{where}: field 'parameters': {e.Message}", e);
        }
        return parameters;
    }
}
