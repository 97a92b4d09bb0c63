namespace MarketIntel.Abstractions.Storage;

/// <summary>
/// Where the model registry keeps its versions and its default: in memory on embedded defaults, PostgreSQL tables
/// in cluster mode (readable by other tools). Versions are immutable: adding the same name and version again
/// with the same bytes is a no-op, with other bytes a refusal.
/// </summary>
public interface IModelStore
{
    /// <summary>Every stored version and the default.</summary>
    Task<ModelCatalog> Load();

    /// <summary>Adds a version; returns false when that name and version is stored already with other bytes.</summary>
    Task<bool> Add(StoredModel model);

    /// <summary>Makes a stored version the default.</summary>
    Task SetDefault(ModelRef model);
}

/// <summary>One stored model version: its description and the bytes it was registered with.</summary>
public sealed record StoredModel(ModelInfo Info, byte[] Bytes);

/// <summary>What a model store holds: every version, and the default (null when none is set).</summary>
public sealed record ModelCatalog(IReadOnlyList<StoredModel> Versions, ModelRef? Default);
