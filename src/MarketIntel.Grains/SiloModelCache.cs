using System.Collections.Concurrent;
using MarketIntel.Abstractions;
using MarketIntel.Inference;

namespace MarketIntel.Grains;

/// <summary>
/// The models loaded on this silo: each registered version is fetched from the registry and loaded once, and
/// every grain on the silo shares that copy (models are immutable per version and safe to share).
/// </summary>
public sealed class SiloModelCache(IGrainFactory grains) : IDisposable
{
    private readonly ConcurrentDictionary<ModelRef, Lazy<Task<Model>>> _models = new();

    /// <summary>How many model versions this silo holds loaded.</summary>
    public int Count => _models.Count;

    public Task<Model> Get(ModelRef model) =>
        _models.GetOrAdd(model, m => new Lazy<Task<Model>>(() => Load(m))).Value;

    private async Task<Model> Load(ModelRef model)
    {
        try
        {
            byte[] bytes = await grains.GetGrain<IModelRegistryGrain>(0).GetBytes(model);
            return Model.Load(bytes, model.ToString());
        }
        catch
        {
            // A failed load is not cached, so a later call can succeed.
            _models.TryRemove(model, out _);
            throw;
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
}
