using System.Collections.Concurrent;
using MarketIntel.Abstractions;
using MarketIntel.Inference;

namespace MarketIntel.Grains;

/// <summary>
/// The models loaded on this silo: each registered version is fetched from the registry and loaded once, and
/// every grain on the silo shares that copy (models are immutable per version and safe to share). It also keeps
/// the registry's default model, refreshed at most every <see cref="DefaultRefresh"/>, so predictions do not all
/// queue on the one registry grain.
/// </summary>
public sealed class SiloModelCache(IGrainFactory grains, ModelLimits? limits = null) : IDisposable
{
    /// <summary>How long a silo uses the default model it last read before asking the registry again.</summary>
    public static readonly TimeSpan DefaultRefresh = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<ModelRef, Lazy<Task<Model>>> _models = new();
    private readonly Lock _defaultLock = new();
    private DefaultEntry? _default;

    /// <summary>How many model versions this silo holds loaded.</summary>
    public int Count => _models.Count;

    public Task<Model> Get(ModelRef model) =>
        _models.GetOrAdd(model, m => new Lazy<Task<Model>>(() => Load(m))).Value;

    private async Task<Model> Load(ModelRef model)
    {
        try
        {
            byte[] bytes = await grains.GetGrain<IModelRegistryGrain>(0).GetBytes(model);
            return Model.Load(bytes, model.ToString(), limits);
        }
        catch
        {
            // A failed load is not cached, so a later call can succeed.
            _models.TryRemove(model, out _);
            throw;
        }
    }

    /// <summary>The registry's default model as this silo last read it (at most <see cref="DefaultRefresh"/> ago).</summary>
    public Task<ModelRef?> GetDefault()
    {
        DefaultEntry? seen = Volatile.Read(ref _default);
        if (seen is not null && !seen.Fetch.IsFaulted && !seen.Fetch.IsCanceled && Environment.TickCount64 - seen.FetchedAt < DefaultRefresh.TotalMilliseconds)
        {
            return seen.Fetch;
        }
        lock (_defaultLock)
        {
            if (ReferenceEquals(_default, seen))
            {
                _default = new DefaultEntry(grains.GetGrain<IModelRegistryGrain>(0).GetDefault(), Environment.TickCount64);
            }
            return _default!.Fetch;
        }
    }

    /// <summary>Forgets the default read from the registry, so the next prediction on this silo reads it again.</summary>
    public void InvalidateDefault()
    {
        lock (_defaultLock)
        {
            _default = null;
        }
    }

    public void Dispose()
    {
        foreach (var entry in _models.Values)
        {
            if (entry.IsValueCreated && entry.Value.IsCompletedSuccessfully)
            {
                entry.Value.Result.Dispose();
            }
        }
    }

    private sealed record DefaultEntry(Task<ModelRef?> Fetch, long FetchedAt);
}
