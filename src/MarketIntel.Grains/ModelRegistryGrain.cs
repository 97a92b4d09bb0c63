using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Inference;

namespace MarketIntel.Grains;

/// <summary>
/// The model registry. Versions are immutable once registered: the same name and version with other bytes is
/// refused. Versions and the default live in the silo's <see cref="IModelStore"/> (in memory on embedded
/// defaults, PostgreSQL tables in cluster mode): read at activation, and written there before a change is answered.
/// </summary>
public sealed class ModelRegistryGrain(IModelStore store, IServiceProvider services) : Grain, IModelRegistryGrain
{
    private readonly ModelLimits? _limits = services.GetService(typeof(ModelLimits)) as ModelLimits;
    private Dictionary<ModelRef, StoredModel> _versions = [];
    private ModelRef? _default;

    public override Task OnActivateAsync(CancellationToken cancellationToken) => Load();

    private async Task Load()
    {
        ModelCatalog catalog;
        try
        {
            catalog = await store.Load();
        }
        catch (Exception e) when (e is not GridException and not OperationCanceledException)
        {
            throw GridException.Unavailable("the model registry could not be read", e);
        }
        _versions = catalog.Versions.ToDictionary(v => v.Info.Model);
        _default = catalog.Default;
    }

    public async Task<ModelInfo> Register(string name, string version, byte[] bytes)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Contains('@', StringComparison.Ordinal))
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model name '{name}' must be non-empty and without '@'");
        }
        if (string.IsNullOrWhiteSpace(version))
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': version must be non-empty");
        }
        ArgumentNullException.ThrowIfNull(bytes);
        var key = new ModelRef(name, version);
        if (_versions.TryGetValue(key, out StoredModel? existing))
        {
            return existing.Bytes.AsSpan().SequenceEqual(bytes) ? existing.Info : throw RegisteredWithOtherBytes(key);
        }
        // Validation runs a client's model under a time budget (seconds): on the thread pool, so this turn yields
        // and the registry's reads ([AlwaysInterleave]) go on meanwhile. Validate touches nothing of the grain;
        // other registrations and SetDefault still wait, so the check above and the insert below stay one step.
        var model = new StoredModel(await Task.Run(() => Validate(bytes, key, _limits)), bytes);
        if (!await Stored(() => store.Add(model)))
        {
            // Another registry activation (a silo that has since gone) stored it first: take what is stored.
            await Load();
            throw RegisteredWithOtherBytes(key);
        }
        _versions[key] = model;
        return model.Info;
    }

    // Loads the model to learn its shape and prove it loads; a model refused is the caller's INVALID_ARGUMENT.
    private static ModelInfo Validate(byte[] bytes, ModelRef key, ModelLimits? limits)
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

    // The reads below interleave with a Register awaiting its validation or its store write. Turns still run one
    // at a time, so a read sees the versions either before a registration's insert or after it, never halfway,
    // and never a version before the store holds it.
    public Task<byte[]> GetBytes(ModelRef model) =>
        _versions.TryGetValue(model, out StoredModel? stored) ? Task.FromResult(stored.Bytes) : throw NotFound(model);

    public Task<ModelInfo> Describe(ModelRef model) =>
        _versions.TryGetValue(model, out StoredModel? stored) ? Task.FromResult(stored.Info) : throw NotFound(model);

    public async Task SetDefault(ModelRef model)
    {
        if (!_versions.ContainsKey(model))
        {
            throw NotFound(model);
        }
        await Stored(async () =>
        {
            await store.SetDefault(model);
            return true;
        });
        _default = model;
    }

    // The store's failures (PostgreSQL down) as errors a client may retry; nothing changed in memory.
    private static async Task<bool> Stored(Func<Task<bool>> write)
    {
        try
        {
            return await write();
        }
        catch (Exception e) when (e is not GridException)
        {
            throw GridException.Unavailable("the model registry could not be stored", e);
        }
    }

    public Task<ModelRef?> GetDefault() => Task.FromResult(_default);

    private static GridException NotFound(ModelRef model) => new(GridErrorKind.NotFound, $"model {model} is not registered");

    private static GridException RegisteredWithOtherBytes(ModelRef model) =>
        new(GridErrorKind.FailedPrecondition, $"model {model} is already registered with other bytes; register a new version");
}
