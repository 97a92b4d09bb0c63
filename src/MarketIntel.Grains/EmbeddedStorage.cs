using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;

namespace MarketIntel.Grains;

// The embedded defaults of the storage contracts live here, beside the grains and GridHosting that registers
// them, rather than in Abstractions: Abstractions holds contracts only, and the asset grain tells "no cache" apart
// by type (NoAssetCache) to skip building what nobody reads.

/// <summary>
/// The bar archive on embedded defaults: each asset's most recent bars in the silo's memory, at most
/// <c>Grid:Retraining:EmbeddedArchiveBars</c> of them (the oldest go first), so that a retraining job has bars to
/// train on. It is not durable (<see cref="IsDurable"/> false): it dies with the process, so asset grains never replay
/// it (they are never collected on embedded defaults either) and there is nothing to fence or checkpoint.
/// </summary>
public sealed class InMemoryBarArchive(int barsPerAsset) : IBarArchive
{
    private readonly ConcurrentDictionary<string, BarRing> _assets = new(StringComparer.Ordinal);

    /// <summary>How many bars each asset keeps at most (0: none).</summary>
    public int BarsPerAsset { get; } = barsPerAsset >= 0 ? barsPerAsset : throw new ArgumentOutOfRangeException(nameof(barsPerAsset), barsPerAsset, "must be 0 or more");

    public bool IsDurable => false;

    // One activation per asset in a silo that holds everything in memory: there is nothing to fence.
    public Task<long> Claim(string asset) => Task.FromResult(1L);

    public Task Append(string asset, long epoch, IReadOnlyList<StoredBar> bars)
    {
        ArgumentNullException.ThrowIfNull(asset);
        ArgumentNullException.ThrowIfNull(bars);
        if (BarsPerAsset > 0 && bars.Count > 0)
        {
            _assets.GetOrAdd(asset, static (_, capacity) => new BarRing(capacity), BarsPerAsset).Append(bars);
        }
        return Task.CompletedTask;
    }

    public Task<ArchiveCheckpoint?> ReadCheckpoint(string asset) => Task.FromResult<ArchiveCheckpoint?>(null);

    public Task SaveCheckpoint(string asset, long epoch, long through, byte[] state) => Task.CompletedTask;

    public async IAsyncEnumerable<StoredBar> Read(string asset, long after = long.MinValue, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(asset);
        await Task.CompletedTask;
        if (!_assets.TryGetValue(asset, out BarRing? ring))
        {
            yield break;
        }
        foreach (StoredBar bar in ring.After(after))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return bar;
        }
    }

    // One asset's bars, oldest first, in a ring that overwrites the oldest once full.
    private sealed class BarRing(int capacity)
    {
        private readonly Lock _lock = new();
        private readonly StoredBar[] _bars = new StoredBar[capacity];
        private int _start;
        private int _count;

        public void Append(IReadOnlyList<StoredBar> bars)
        {
            lock (_lock)
            {
                foreach (StoredBar bar in bars)
                {
                    // Bars already kept are skipped, as the durable archive skips them.
                    if (_count > 0 && bar.Timestamp <= _bars[(_start + _count - 1) % _bars.Length].Timestamp)
                    {
                        continue;
                    }
                    if (_count < _bars.Length)
                    {
                        _bars[(_start + _count++) % _bars.Length] = bar;
                    }
                    else
                    {
                        _bars[_start] = bar;
                        _start = (_start + 1) % _bars.Length;
                    }
                }
            }
        }

        // A copy, so the reader never sees a write in progress and never holds the lock while it is enumerated.
        public StoredBar[] After(long after)
        {
            lock (_lock)
            {
                var copy = new List<StoredBar>(_count);
                for (int i = 0; i < _count; i++)
                {
                    StoredBar bar = _bars[(_start + i) % _bars.Length];
                    if (bar.Timestamp > after)
                    {
                        copy.Add(bar);
                    }
                }
                return [.. copy];
            }
        }
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
