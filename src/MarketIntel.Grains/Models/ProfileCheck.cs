using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Training.Drift;

namespace MarketIntel.Grains.Models;

/// <summary>
/// What the registry requires of a reference profile, whether it arrives on its own or inside a lineage (key
/// <c>profile</c>): it reads as a <see cref="ReferenceProfile"/>, and its features are the model's own, in the model's
/// column order, so that the live inputs a grain bins line up with their references.
/// </summary>
public static class ProfileCheck
{
    /// <summary>The lineage's key that carries a profile.</summary>
    public const string LineageKey = "profile";

    /// <summary>A profile given on its own, checked against <paramref name="model"/>.</summary>
    /// <exception cref="GridException">INVALID_ARGUMENT naming the place at fault or the first feature that differs.</exception>
    public static ReferenceProfile Parse(string json, ModelInfo model)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(model);
        try
        {
            using var document = JsonDocument.Parse(json);
            return Matching(ReferenceProfile.Read(document.RootElement, "profile"), model, "profile");
        }
        catch (JsonException e)
        {
            throw Invalid(model, $"profile: not valid JSON ({e.Message})");
        }
        catch (ProfileFormatException e)
        {
            throw Invalid(model, e.Message);
        }
    }

    /// <summary>The profile a lineage carries, checked against <paramref name="model"/>; null when it carries none.</summary>
    /// <exception cref="GridException">INVALID_ARGUMENT naming the place at fault (<c>lineage.profile...</c>) or the first feature that differs.</exception>
    public static ReferenceProfile? InLineage(string? lineage, ModelInfo model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (lineage is null)
        {
            return null;
        }
        // The lineage was checked to be a JSON object before (LineageCheck), so only the profile can be at fault here.
        using var document = JsonDocument.Parse(lineage);
        if (!document.RootElement.TryGetProperty(LineageKey, out JsonElement element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        try
        {
            return Matching(ReferenceProfile.Read(element, "lineage.profile"), model, "lineage.profile");
        }
        catch (ProfileFormatException e)
        {
            throw Invalid(model, e.Message);
        }
    }

    /// <summary>The JSON of the profile a stored lineage carries, or null (the registry checked it when it stored the lineage).</summary>
    public static string? JsonInLineage(string? lineage)
    {
        if (lineage is null)
        {
            return null;
        }
        using var document = JsonDocument.Parse(lineage);
        return document.RootElement.TryGetProperty(LineageKey, out JsonElement profile) && profile.ValueKind == JsonValueKind.Object
            ? profile.GetRawText() : null;
    }

    // The model's feature names when it names them, else only their count can be checked.
    private static ReferenceProfile Matching(ReferenceProfile profile, ModelInfo model, string path)
    {
        IReadOnlyList<FeatureReference> given = profile.Features;
        if (model.FeatureNames is not { } names)
        {
            return given.Count == model.FeatureCount ? profile
                : throw Invalid(model, $"{path}: has {given.Count} features; the model takes {model.FeatureCount}");
        }
        for (int i = 0; i < Math.Max(given.Count, names.Count); i++)
        {
            if (i >= given.Count)
            {
                throw Invalid(model, $"{path}: has no reference for the model's feature {i} '{names[i]}' (the profile has {given.Count} features, the model {names.Count})");
            }
            if (i >= names.Count)
            {
                throw Invalid(model, $"{path}.features[{i}]: '{given[i].Name}' is not one of the model's {names.Count} features");
            }
            if (!string.Equals(given[i].Name, names[i], StringComparison.Ordinal))
            {
                throw Invalid(model, $"{path}.features[{i}]: '{given[i].Name}' where the model's feature {i} is '{names[i]}' (a profile lists the model's features in its column order)");
            }
        }
        return profile;
    }

    private static GridException Invalid(ModelInfo model, string problem) => new(GridErrorKind.InvalidArgument, $"model {model.Model}: {problem}");
}
