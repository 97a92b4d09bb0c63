using MarketIntel.Abstractions.Models;

namespace MarketIntel.Abstractions.Storage;

/// <summary>
/// Where the model registry keeps its versions, its default, each model name's deployment and the audit log: in
/// memory on embedded defaults, PostgreSQL tables in cluster mode (readable by other tools). Versions are immutable:
/// adding the same name and version again with the same bytes is a no-op, with other bytes a refusal; a version's
/// lineage is set once in the same way. Every change but the default's is written together with its audit record,
/// so the log holds each change the store holds, and nothing else.
/// </summary>
public interface IModelStore
{
    /// <summary>Every stored version, the default and every deployment.</summary>
    Task<ModelCatalog> Load();

    /// <summary>Adds a version (and its audit record); returns false when that name and version is stored already with other bytes.</summary>
    Task<bool> Add(StoredModel model, ModelAuditRecord audit);

    /// <summary>
    /// Sets a stored version's lineage (the JSON as given) and the label it names; returns false when the version
    /// has another lineage already. Setting the same lineage again is a no-op that writes no audit record.
    /// </summary>
    Task<bool> SetLineage(ModelRef model, string lineage, string label, ModelAuditRecord audit);

    /// <summary>
    /// Sets a stored version's reference profile (JSON); returns false when the version has another profile already.
    /// Setting the same profile again is a no-op that writes no audit record.
    /// </summary>
    Task<bool> SetProfile(ModelRef model, string profile, ModelAuditRecord audit);

    /// <summary>Replaces a stored version's tags.</summary>
    Task SetTags(ModelRef model, IReadOnlyDictionary<string, string> tags, ModelAuditRecord audit);

    /// <summary>Replaces a model name's deployment (aliases, splits, shadows, epoch).</summary>
    Task SaveDeployment(ModelDeployment deployment, ModelAuditRecord audit);

    /// <summary>Appends an audit record of a change kept elsewhere (a promotion decision).</summary>
    Task AppendAudit(ModelAuditRecord audit);

    /// <summary>A model name's audit records, oldest first: the last <paramref name="limit"/> of them.</summary>
    Task<IReadOnlyList<ModelAuditRecord>> ReadAudit(string name, int limit);

    /// <summary>Makes a stored version, or an alias, the default.</summary>
    Task SetDefault(ModelRef model);
}

/// <summary>
/// One stored model version: its description (with the label its lineage names), the bytes it was registered with,
/// when (Unix ms), its tags and its lineage JSON as given (null when none was set).
/// </summary>
public sealed record StoredModel(ModelInfo Info, byte[] Bytes, long CreatedAt, IReadOnlyDictionary<string, string> Tags, string? Lineage)
{
    /// <summary>The reference profile given to the version on its own (JSON), or null; a profile inside the lineage is not copied here.</summary>
    public string? Profile { get; init; }

    /// <summary>A version as first registered: no tags, no lineage.</summary>
    public StoredModel(ModelInfo info, byte[] bytes, long createdAt)
        : this(info, bytes, createdAt, new Dictionary<string, string>(StringComparer.Ordinal), null)
    {
    }
}

/// <summary>What a model store holds: every version, the default (null when none is set), and every model name's deployment.</summary>
public sealed record ModelCatalog(IReadOnlyList<StoredModel> Versions, ModelRef? Default, IReadOnlyList<ModelDeployment> Deployments);
