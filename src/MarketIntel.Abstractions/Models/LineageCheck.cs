using System.Text.Json;
using MarketIntel.Features;

namespace MarketIntel.Abstractions.Models;

/// <summary>
/// What the registry requires of a version's lineage (the JSON that <c>marketintel train</c> and <c>backtest</c> write
/// next to a model): a JSON object whose <c>label</c> names a kind and a horizon that agree with each other and with
/// its name, whose <c>features</c> are the model's own where the model names its features, and whose
/// <c>modelSha256</c>, when present, is the SHA-256 of the bytes registered. Every other field is kept as given.
/// </summary>
public static class LineageCheck
{
    /// <summary>The label column name (<c>up_K</c>, <c>logret_K</c>) of a valid lineage for <paramref name="model"/>.</summary>
    /// <exception cref="GridException">An <see cref="GridErrorKind.InvalidArgument"/> error naming the field at fault.</exception>
    public static string Label(string lineage, ModelInfo model, string sha256)
    {
        ArgumentNullException.ThrowIfNull(lineage);
        ArgumentNullException.ThrowIfNull(model);
        string where = $"lineage of model {model.Model}";
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(lineage);
        }
        catch (JsonException e)
        {
            throw Invalid(where, $"is not JSON ({e.Message})");
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(where, "must be a JSON object");
            }
            LabelDefinition label = ReadLabel(root, where);
            if (model.FeatureNames is { } names && root.TryGetProperty("features", out JsonElement features))
            {
                string[] given = features.ValueKind == JsonValueKind.Array && features.EnumerateArray().All(f => f.ValueKind == JsonValueKind.String)
                    ? features.EnumerateArray().Select(f => f.GetString()!).ToArray()
                    : throw Invalid(where, "field 'features' must be an array of feature names");
                if (!given.SequenceEqual(names, StringComparer.Ordinal))
                {
                    throw Invalid(where, $"field 'features' ({Names(given)}) differs from the model's own feature names ({Names(names)})");
                }
            }
            if (root.TryGetProperty("modelSha256", out JsonElement sha) &&
                !(sha.ValueKind == JsonValueKind.String && string.Equals(sha.GetString(), sha256, StringComparison.OrdinalIgnoreCase)))
            {
                throw Invalid(where, $"field 'modelSha256' ({sha}) is not the SHA-256 of the model registered ({sha256}): the lineage belongs to another model file");
            }
            return label.Name;
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
            throw Invalid(where, e.Message);
        }
    }

    private static string Names(IEnumerable<string> names) => string.Join(", ", names);

    private static GridException Invalid(string where, string problem) => new(GridErrorKind.InvalidArgument, $"{where}: {problem}");
}
