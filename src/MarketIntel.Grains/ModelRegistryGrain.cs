using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Inference;

namespace MarketIntel.Grains;

/// <summary>The registry's state: every version's bytes and description, and the default.</summary>
[GenerateSerializer]
public sealed class ModelRegistryState
{
    [Id(0)]
    public Dictionary<ModelRef, byte[]> Bytes { get; set; } = [];

    [Id(1)]
    public Dictionary<ModelRef, ModelInfo> Info { get; set; } = [];

    [Id(2)]
    public ModelRef? Default { get; set; }
}

/// <summary>
/// The model registry. Versions are immutable once registered: the same name and version with other bytes is
/// refused. It keeps everything in grain state, unless an <see cref="IModelStore"/> is registered (cluster mode:
/// PostgreSQL tables), which it then reads at activation and writes through.
/// </summary>
public sealed class ModelRegistryGrain(
    [PersistentState("registry", GridStorage.Name)] IPersistentState<ModelRegistryState> persisted,
    IServiceProvider services)
    : Grain, IModelRegistryGrain
{
    private readonly IModelStore? _store = services.GetService(typeof(IModelStore)) as IModelStore;
    private readonly ModelLimits? _limits = services.GetService(typeof(ModelLimits)) as ModelLimits;
    private ModelRegistryState _loaded = new();

    private ModelRegistryState State => _store is null ? persisted.State : _loaded;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (_store is not null)
        {
            _loaded = await Loaded(_store);
        }
    }

    private static async Task<ModelRegistryState> Loaded(IModelStore store)
    {
        try
        {
            ModelCatalog catalog = await store.Load();
            var state = new ModelRegistryState { Default = catalog.Default };
            foreach (StoredModel model in catalog.Versions)
            {
                state.Bytes[model.Info.Model] = model.Bytes;
                state.Info[model.Info.Model] = model.Info;
            }
            return state;
        }
        catch (Exception e) when (e is not GridException and not OperationCanceledException)
        {
            throw GridException.Unavailable("the model registry could not be read", e);
        }
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
        if (State.Bytes.TryGetValue(key, out byte[]? existing))
        {
            return existing.AsSpan().SequenceEqual(bytes)
                ? State.Info[key]
                : throw new GridException(GridErrorKind.FailedPrecondition, $"model {key} is already registered with other bytes; register a new version");
        }
        // Validation runs a client's model under a time budget (seconds): on the thread pool, so this turn yields
        // and the registry's reads ([AlwaysInterleave]) go on meanwhile. Validate touches nothing of the grain;
        // other registrations and SetDefault still wait, so the check above and the insert below stay one step.
        ModelInfo info = await Task.Run(() => Validate(bytes, key, _limits));
        if (_store is not null && !await Stored(() => _store.Add(new StoredModel(info, bytes))))
        {
            // Another registry activation (a silo that has since gone) stored it first: take what is stored.
            _loaded = await Loaded(_store);
            throw new GridException(GridErrorKind.FailedPrecondition, $"model {key} is already registered with other bytes; register a new version");
        }
        State.Bytes[key] = bytes;
        State.Info[key] = info;
        if (_store is null)
        {
            await persisted.WriteStateAsync();
        }
        return info;
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

    // The reads below interleave with a Register awaiting its validation or its state write. Turns still run
    // one at a time, so a read sees the dictionaries either before a registration's insert or after it, never
    // halfway; with grain storage (no IModelStore) it may see a version whose state write is still in flight.
    public Task<byte[]> GetBytes(ModelRef model) =>
        State.Bytes.TryGetValue(model, out byte[]? bytes) ? Task.FromResult(bytes) : throw NotFound(model);

    public Task<ModelInfo> Describe(ModelRef model) =>
        State.Info.TryGetValue(model, out ModelInfo? info) ? Task.FromResult(info) : throw NotFound(model);

    public async Task SetDefault(ModelRef model)
    {
        if (!State.Bytes.ContainsKey(model))
        {
            throw NotFound(model);
        }
        if (_store is not null)
        {
            await Stored(async () =>
            {
                await _store.SetDefault(model);
                return true;
            });
        }
        else
        {
            State.Default = model;
            await persisted.WriteStateAsync();
        }
        State.Default = model;
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

    public Task<ModelRef?> GetDefault() => Task.FromResult(State.Default);

    private static GridException NotFound(ModelRef model) => new(GridErrorKind.NotFound, $"model {model} is not registered");
}
