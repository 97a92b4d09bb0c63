using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;

namespace MarketIntel.Grains;

// The embedded defaults of the storage contracts live here, beside the grains and GridHosting that registers
// them, rather than in Abstractions: Abstractions holds contracts only, and the asset grain tells "no cache" apart
// by type (NoAssetCache) to skip building what nobody reads.

/// <summary>No archive: embedded defaults keep state in memory only, and asset grains are never collected.</summary>
public sealed class NoBarArchive : IBarArchive
{
    public bool IsDurable => false;

    // One activation per asset in a silo that holds everything in memory: there is nothing to fence.
    public Task<long> Claim(string asset) => Task.FromResult(1L);

    public Task Append(string asset, long epoch, IReadOnlyList<StoredBar> bars) => Task.CompletedTask;

    public Task<ArchiveCheckpoint?> ReadCheckpoint(string asset) => Task.FromResult<ArchiveCheckpoint?>(null);

    public Task SaveCheckpoint(string asset, long epoch, long through, byte[] state) => Task.CompletedTask;

    public async IAsyncEnumerable<StoredBar> Read(string asset, long after = long.MinValue, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask;
        yield break;
    }
}

/// <summary>No cache (embedded defaults).</summary>
public sealed class NoAssetCache : IAssetCache
{
    public void Publish(FeatureSnapshot? features, PredictionResult? prediction)
    {
    }
}

/// <summary>No prediction log (embedded defaults): the asset grain builds no batch.</summary>
public sealed class NoPredictionLog : IPredictionLog
{
    public bool IsEnabled => false;

    public bool Append(PredictionBatch batch) => false;
}

/// <summary>
/// The model registry's store on embedded defaults: the silo's memory, so it outlives the registry grain's
/// activation but not the process. Same rules as the durable store: versions, lineage and profiles are immutable and the
/// default must be a stored version (or an alias).
/// </summary>
public sealed class InMemoryModelStore : IModelStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ModelRef, StoredModel> _versions = [];
    private readonly List<ModelRef> _order = [];
    private readonly Dictionary<string, ModelDeployment> _deployments = new(StringComparer.Ordinal);
    private readonly List<ModelAuditRecord> _audit = [];
    private ModelRef? _default;

    public Task<ModelCatalog> Load()
    {
        lock (_lock)
        {
            return Task.FromResult(new ModelCatalog([.. _order.Select(m => _versions[m])], _default, [.. _deployments.Values]));
        }
    }

    public Task<bool> Add(StoredModel model, ModelAuditRecord audit)
    {
        ArgumentNullException.ThrowIfNull(model);
        lock (_lock)
        {
            if (_versions.TryGetValue(model.Info.Model, out StoredModel? stored))
            {
                return Task.FromResult(stored.Bytes.AsSpan().SequenceEqual(model.Bytes));
            }
            _versions.Add(model.Info.Model, model with { Tags = new Dictionary<string, string>(model.Tags, StringComparer.Ordinal) });
            _order.Add(model.Info.Model);
            Append(audit);
            return Task.FromResult(true);
        }
    }

    public Task<bool> SetLineage(ModelRef model, string lineage, string label, ModelAuditRecord audit)
    {
        lock (_lock)
        {
            StoredModel stored = Stored(model);
            if (stored.Lineage is not null)
            {
                return Task.FromResult(stored.Lineage == lineage);
            }
            _versions[model] = stored with { Lineage = lineage, Info = stored.Info with { Label = label } };
            Append(audit);
            return Task.FromResult(true);
        }
    }

    public Task<bool> SetProfile(ModelRef model, string profile, ModelAuditRecord audit)
    {
        lock (_lock)
        {
            StoredModel stored = Stored(model);
            if (stored.Profile is not null)
            {
                return Task.FromResult(stored.Profile == profile);
            }
            _versions[model] = stored with { Profile = profile };
            Append(audit);
            return Task.FromResult(true);
        }
    }

    public Task SetTags(ModelRef model, IReadOnlyDictionary<string, string> tags, ModelAuditRecord audit)
    {
        ArgumentNullException.ThrowIfNull(tags);
        lock (_lock)
        {
            _versions[model] = Stored(model) with { Tags = new Dictionary<string, string>(tags, StringComparer.Ordinal) };
            Append(audit);
        }
        return Task.CompletedTask;
    }

    public Task SaveDeployment(ModelDeployment deployment, ModelAuditRecord audit)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        lock (_lock)
        {
            foreach (string version in deployment.Aliases.Values.SelectMany(a => a.Split is { } split ? [a.Version, split.Version] : new[] { a.Version }).Concat(deployment.Shadows))
            {
                Stored(new ModelRef(deployment.Name, version));
            }
            _deployments[deployment.Name] = deployment;
            Append(audit);
        }
        return Task.CompletedTask;
    }

    public Task AppendAudit(ModelAuditRecord audit)
    {
        lock (_lock)
        {
            Append(audit);
        }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<ModelAuditRecord>> ReadAudit(string name, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        lock (_lock)
        {
            ModelAuditRecord[] records = [.. _audit.Where(r => r.Name == name)];
            return Task.FromResult<IReadOnlyList<ModelAuditRecord>>(records[Math.Max(0, records.Length - limit)..]);
        }
    }

    public Task SetDefault(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        lock (_lock)
        {
            if (!model.IsAlias)
            {
                Stored(model);
            }
            _default = model;
        }
        return Task.CompletedTask;
    }

    // Callers hold the lock.
    private StoredModel Stored(ModelRef model) =>
        _versions.TryGetValue(model, out StoredModel? stored) ? stored : throw new InvalidOperationException($"model {model} is not stored");

    private void Append(ModelAuditRecord audit)
    {
        ArgumentNullException.ThrowIfNull(audit);
        _audit.Add(audit with { Sequence = _audit.Count + 1 });
    }
}
