using System.Collections.Concurrent;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Inference;
using MarketIntel.Training.Drift;

namespace MarketIntel.Grains;

/// <summary>
/// The models loaded on this silo: each registered version is fetched from the registry and loaded once, and
/// every grain on the silo shares that copy (models are immutable per version and safe to share). It also keeps
/// what the registry says is served (the default model, and each model name's deployment: aliases, splits,
/// shadows), read again at most every <see cref="DefaultRefresh"/>, so predictions do not all queue on the one
/// registry grain. The registry also pushes each changed deployment to every silo (<see cref="Apply"/>, through
/// <see cref="SiloModelEvents"/>) before it answers the change; the poll is the fallback for a silo it missed.
/// </summary>
public sealed class SiloModelCache(IGrainFactory grains, ModelLimits? limits = null) : IDisposable
{
    /// <summary>How long a silo uses the default model or a deployment it last read before asking the registry again.</summary>
    public static readonly TimeSpan DefaultRefresh = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<ModelRef, Lazy<Task<Model>>> _models = new();
    private readonly ConcurrentDictionary<ModelRef, Lazy<Task<ModelInfo>>> _descriptions = new();
    private readonly ConcurrentDictionary<ModelRef, ReferenceProfile> _profiles = new();
    private readonly ConcurrentDictionary<ModelRef, Refreshed<string?>> _profilesAbsent = new();
    private readonly Refreshed<ModelRef?> _default = new();
    private readonly ConcurrentDictionary<string, Refreshed<ModelDeployment>> _deployments = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Pushed> _pushed = new(StringComparer.Ordinal);
    private readonly Lock _applying = new();
    private long _pushes;

    /// <summary>How many model versions this silo holds loaded.</summary>
    public int Count => _models.Count;

    private IModelRegistryGrain Registry => grains.GetGrain<IModelRegistryGrain>(0);

    public Task<Model> Get(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.IsAlias)
        {
            throw new ArgumentException($"{model} must be resolved to a version before it is loaded", nameof(model));
        }
        return _models.GetOrAdd(model, m => new Lazy<Task<Model>>(() => Load(m))).Value;
    }

    private async Task<Model> Load(ModelRef model)
    {
        try
        {
            byte[] bytes = await Registry.GetBytes(model);
            return Model.Load(bytes, model.ToString(), limits);
        }
        catch
        {
            // A failed load is not cached, so a later call can succeed.
            _models.TryRemove(model, out _);
            throw;
        }
    }

    /// <summary>
    /// A registered version's description (its label, for live scoring), read from the registry once per silo: a
    /// version never changes once registered. A failed read is not kept.
    /// </summary>
    public Task<ModelInfo> Describe(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.IsAlias)
        {
            throw new ArgumentException($"{model} must be resolved to a version before it is described", nameof(model));
        }
        return _descriptions.GetOrAdd(model, m => new Lazy<Task<ModelInfo>>(() => ReadDescription(m))).Value;
    }

    private async Task<ModelInfo> ReadDescription(ModelRef model)
    {
        try
        {
            return await Registry.Describe(model);
        }
        catch
        {
            _descriptions.TryRemove(model, out _);
            throw;
        }
    }

    /// <summary>
    /// A registered version's reference profile, or null when it has none. A profile is set once per version, so one
    /// found is kept; that there is none is read again at most every <see cref="DefaultRefresh"/>, so a profile given
    /// later is picked up. A profile that cannot be parsed fails the call (the registry checks what it stores).
    /// </summary>
    public async ValueTask<ReferenceProfile?> Profile(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (_profiles.TryGetValue(model, out ReferenceProfile? found))
        {
            return found;
        }
        string? json = await _profilesAbsent.GetOrAdd(model, static _ => new Refreshed<string?>()).Get(() => Registry.GetProfile(model));
        if (json is null)
        {
            return null;
        }
        found = _profiles.GetOrAdd(model, ReferenceProfile.Parse(json));
        _profilesAbsent.TryRemove(model, out _);
        return found;
    }

    /// <summary>The registry's default model as this silo last read it (at most <see cref="DefaultRefresh"/> ago).</summary>
    public Task<ModelRef?> GetDefault() => _default.Get(Registry.GetDefault);

    /// <summary>Forgets the default read from the registry, so the next prediction on this silo reads it again.</summary>
    public void InvalidateDefault() => _default.Invalidate();

    /// <summary>A model name's deployment as this silo last read it (at most <see cref="DefaultRefresh"/> ago).</summary>
    public Task<ModelDeployment> Deployment(string name) =>
        _deployments.GetOrAdd(name, static _ => new Refreshed<ModelDeployment>()).Get(() => Read(name));

    // A poll that was under way when a newer deployment was pushed answers the pushed one: the registry may have
    // answered the poll before the change, and the change must not be undone on this silo for a refresh period.
    private async Task<ModelDeployment> Read(string name)
    {
        long pushesBefore = Volatile.Read(ref _pushes);
        ModelDeployment read = await Registry.GetDeployment(name);
        return _pushed.TryGetValue(name, out Pushed? pushed) && pushed.Sequence > pushesBefore && pushed.Deployment.Epoch > read.Epoch ? pushed.Deployment : read;
    }

    /// <summary>
    /// Serves <paramref name="deployment"/> (pushed by the registry) on this silo from now on, unless this silo holds
    /// a newer one already (pushes may arrive out of order).
    /// </summary>
    public void Apply(ModelDeployment deployment)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        // One push at a time, so that of two racing pushes the older cannot be served after the newer.
        lock (_applying)
        {
            if (_pushed.TryGetValue(deployment.Name, out Pushed? held) && held.Deployment.Epoch >= deployment.Epoch)
            {
                return;
            }
            _pushed[deployment.Name] = new Pushed(deployment, Interlocked.Increment(ref _pushes));
            _deployments.GetOrAdd(deployment.Name, static _ => new Refreshed<ModelDeployment>()).Set(deployment);
        }
    }

    private sealed record Pushed(ModelDeployment Deployment, long Sequence);

    /// <summary>Forgets a model name's deployment read from the registry, so the next prediction on this silo reads it again.</summary>
    public void InvalidateDeployment(string name)
    {
        if (_deployments.TryGetValue(name, out Refreshed<ModelDeployment>? deployment))
        {
            deployment.Invalidate();
        }
    }

    /// <summary>
    /// The version serving <paramref name="asset"/> for <paramref name="target"/> (a version, or an alias resolved
    /// through its model's deployment), with the deployment used (null for a version).
    /// </summary>
    public async ValueTask<(ServedVersion Served, ModelDeployment? Routing)> Resolve(ModelRef target, string asset)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!target.IsAlias)
        {
            return (new ServedVersion(target, ModelRole.Served), null);
        }
        ModelDeployment deployment = await Deployment(target.Name);
        return deployment.Resolve(target, asset) is { } served ? (served, deployment)
            : throw new GridException(GridErrorKind.FailedPrecondition, $"{asset}: alias '{target.Alias}' of model '{target.Name}' is not set");
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

    // A value read from the registry and used for DefaultRefresh; a failed or cancelled read is not kept. Readers that
    // come while a read is under way share it.
    private sealed class Refreshed<T>
    {
        private readonly Lock _lock = new();
        private Entry? _current;

        public Task<T> Get(Func<Task<T>> read)
        {
            Entry? seen = Volatile.Read(ref _current);
            if (seen is not null && !seen.Fetch.IsFaulted && !seen.Fetch.IsCanceled && Environment.TickCount64 - seen.FetchedAt < DefaultRefresh.TotalMilliseconds)
            {
                return Answer(seen);
            }
            lock (_lock)
            {
                if (ReferenceEquals(_current, seen))
                {
                    // The value read last answers while the routine re-read is under way (it is one refresh old at
                    // most), so readers such as the local read path do not fall back to a grain call every refresh.
                    // After Invalidate there is none: an explicit change is never answered with the old value.
                    Task<T>? last = seen?.Fetch.IsCompletedSuccessfully == true ? seen.Fetch : null;
                    _current = new Entry(read(), Environment.TickCount64, last);
                }
                return Answer(_current!);
            }
        }

        private static Task<T> Answer(Entry entry) => !entry.Fetch.IsCompleted && entry.Last is { } last ? last : entry.Fetch;

        public void Set(T value)
        {
            lock (_lock)
            {
                _current = new Entry(Task.FromResult(value), Environment.TickCount64, null);
            }
        }

        public void Invalidate()
        {
            lock (_lock)
            {
                _current = null;
            }
        }

        private sealed record Entry(Task<T> Fetch, long FetchedAt, Task<T>? Last);
    }
}
