using System.Security.Cryptography;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Inference;

namespace MarketIntel.Grains.Models;

/// <summary>
/// The registry's versions as its grain holds them (a copy of what the store holds, in the order registered), and
/// the rules a version obeys: a valid name and version, a model that loads, bounded tags. Used from the registry
/// grain's turns only.
/// </summary>
internal sealed class RegistryVersions
{
    /// <summary>The most tags a version may carry, and the longest key and value.</summary>
    public const int MaxTags = 64, MaxTagKeyLength = 128, MaxTagValueLength = 1024;

    private Dictionary<ModelRef, StoredModel> _versions = [];
    private List<ModelRef> _order = [];

    /// <summary>Replaces what is held with the store's versions.</summary>
    public void Load(IReadOnlyList<StoredModel> versions)
    {
        _versions = versions.ToDictionary(v => v.Info.Model);
        _order = [.. versions.Select(v => v.Info.Model)];
    }

    /// <summary>The stored version, when registered.</summary>
    public bool TryGet(ModelRef model, out StoredModel? stored) => _versions.TryGetValue(model, out stored);

    /// <summary>The stored version, or NOT_FOUND.</summary>
    public StoredModel Require(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return _versions.TryGetValue(model, out StoredModel? stored) ? stored : throw new GridException(GridErrorKind.NotFound, $"model {model} is not registered");
    }

    /// <summary>Holds a version the store has just added.</summary>
    public void Add(StoredModel model)
    {
        _versions[model.Info.Model] = model;
        _order.Add(model.Info.Model);
    }

    /// <summary>Holds a changed version (lineage, tags) the store has just written.</summary>
    public void Replace(StoredModel model) => _versions[model.Info.Model] = model;

    /// <summary>Whether any version of the model name is registered.</summary>
    public bool HasName(string name) => _order.Any(m => m.Name == name);

    /// <summary>Every registered model name, in ordinal order.</summary>
    public IEnumerable<string> Names => _order.Select(m => m.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);

    /// <summary>A model name's versions, in the order registered.</summary>
    public IEnumerable<StoredModel> VersionsOf(string name) => _order.Where(m => m.Name == name).Select(m => _versions[m]);

    /// <summary>What the registry answers about a stored version.</summary>
    public static ModelVersionDetails Details(StoredModel model) =>
        new(model.Info, Sha256(model.Bytes), model.CreatedAt, model.Tags, model.Lineage) { HasProfile = ProfileOf(model) is not null };

    /// <summary>A version's reference profile (JSON): the one given to it on its own, else the one its lineage carries, else null.</summary>
    public static string? ProfileOf(StoredModel model) => model.Profile ?? ProfileCheck.JsonInLineage(model.Lineage);

    /// <summary>The lower-case hex SHA-256 of a version's bytes.</summary>
    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Refuses a model name with '@' or blank, and a version that is blank or reads as an alias.</summary>
    public static void CheckNames(string name, string version)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Contains(ModelRef.AliasMark, StringComparison.Ordinal))
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model name '{name}' must be non-empty and without '@'");
        }
        if (string.IsNullOrWhiteSpace(version) || version[0] == ModelRef.AliasMark)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': version '{version}' must be non-empty and not start with '{ModelRef.AliasMark}' (that marks an alias)");
        }
    }

    /// <summary>Loads the model to learn its shape and prove it loads; a model refused is the caller's INVALID_ARGUMENT.</summary>
    public static ModelInfo Validate(byte[] bytes, ModelRef key, ModelLimits? limits)
    {
        try
        {
            using Model model = Model.Load(bytes, key.ToString(), limits);
            return new ModelInfo(key, model.Kind, model.FeatureNames?.ToArray(), model.FeatureCount, model.OutputNames.ToArray());
        }
        catch (ModelFormatException e)
        {
            throw new GridException(GridErrorKind.InvalidArgument, e.Message);
        }
    }

    /// <summary>Refuses too many tags, and keys or values that are too long, blank or hold control characters.</summary>
    public static void CheckTags(string name, IReadOnlyDictionary<string, string> tags)
    {
        if (tags.Count > MaxTags)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': {tags.Count} tags; a version carries at most {MaxTags}");
        }
        foreach (var (key, value) in tags)
        {
            if (string.IsNullOrWhiteSpace(key) || key.Length > MaxTagKeyLength || key.Any(char.IsControl))
            {
                throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': tag key '{key}' must be 1 to {MaxTagKeyLength} characters, not blank, without control characters");
            }
            if (value is null || value.Length > MaxTagValueLength || value.Any(char.IsControl))
            {
                throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': the value of tag '{key}' must be at most {MaxTagValueLength} characters, without control characters");
            }
        }
    }

    /// <summary>The refusal of a version registered again with other bytes.</summary>
    public static GridException RegisteredWithOtherBytes(ModelRef model) =>
        new(GridErrorKind.FailedPrecondition, $"model {model} is already registered with other bytes; register a new version");

    /// <summary>The refusal of a second, different lineage.</summary>
    public static GridException LineageSetAlready(ModelRef model) =>
        new(GridErrorKind.FailedPrecondition, $"model {model} has another lineage already; a version's lineage is set once");
}
