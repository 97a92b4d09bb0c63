using MarketIntel.Abstractions;
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

/// <summary>
/// The model registry's store on embedded defaults: the silo's memory, so it outlives the registry grain's
/// activation but not the process. Same rules as the durable store: versions are immutable and the default
/// must be a stored version (or an alias).
/// </summary>
public sealed class InMemoryModelStore : IModelStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ModelRef, StoredModel> _versions = [];
    private ModelRef? _default;

    public Task<ModelCatalog> Load()
    {
        lock (_lock)
        {
            return Task.FromResult(new ModelCatalog([.. _versions.Values], _default));
        }
    }

    public Task<bool> Add(StoredModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        lock (_lock)
        {
            if (_versions.TryGetValue(model.Info.Model, out StoredModel? stored))
            {
                return Task.FromResult(stored.Bytes.AsSpan().SequenceEqual(model.Bytes));
            }
            _versions.Add(model.Info.Model, model);
            return Task.FromResult(true);
        }
    }

    public Task SetDefault(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        lock (_lock)
        {
            if (!model.IsAlias && !_versions.ContainsKey(model))
            {
                throw new InvalidOperationException($"model {model} is not stored");
            }
            _default = model;
        }
        return Task.CompletedTask;
    }
}
