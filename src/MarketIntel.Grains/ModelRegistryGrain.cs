using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
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
    private readonly Dictionary<string, ModelDeployment> _deployments = new(StringComparer.Ordinal);

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
        if (string.IsNullOrWhiteSpace(version) || version[0] == ModelRef.AliasMark)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': version '{version}' must be non-empty and not start with '{ModelRef.AliasMark}' (that marks an alias)");
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
        ArgumentNullException.ThrowIfNull(model);
        if (model.IsAlias)
        {
            CheckAliasName(model.Name, model.Alias!);
        }
        else
        {
            RequireVersion(model);
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

    public Task<ModelDeployment> GetDeployment(string name) =>
        Task.FromResult(_deployments.TryGetValue(name, out ModelDeployment? deployment) ? deployment : ModelDeployment.Empty(name));

    public Task<ModelDeployment> SetAlias(string name, string alias, string version, string client)
    {
        CheckAliasName(name, alias);
        RequireVersion(new ModelRef(name, version));
        return Deploy(name, d => d with { Aliases = With(d.Aliases, alias, new AliasTarget(version, null, d.Aliases.GetValueOrDefault(alias)?.AutoPromote ?? false)) });
    }

    public Task<ModelDeployment> RemoveAlias(string name, string alias, string client)
    {
        CheckAliasName(name, alias);
        return Deploy(name, d => d.Aliases.ContainsKey(alias)
            ? d with { Aliases = d.Aliases.Where(a => a.Key != alias).ToDictionary(StringComparer.Ordinal) }
            : throw new GridException(GridErrorKind.NotFound, $"model '{name}' has no alias '{alias}'"));
    }

    public Task<ModelDeployment> SetSplit(string name, string alias, ArmSplit? split, string client)
    {
        CheckAliasName(name, alias);
        if (split is not null)
        {
            RequireVersion(new ModelRef(name, split.Version));
            if (!(split.Weight is > 0 and < 1))
            {
                throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}' alias '{alias}': split weight {split.Weight} must be between 0 and 1 (exclusive)");
            }
        }
        return Deploy(name, d => d.Aliases.TryGetValue(alias, out AliasTarget? target)
            ? d with { Aliases = With(d.Aliases, alias, target with { Split = split }) }
            : throw new GridException(GridErrorKind.FailedPrecondition, $"model '{name}' has no alias '{alias}' to split; set it first"));
    }

    public Task<ModelDeployment> SetShadow(ModelRef version, bool shadow, string client)
    {
        ArgumentNullException.ThrowIfNull(version);
        RequireVersion(version);
        return Deploy(version.Name, d => shadow == d.Shadows.Contains(version.Version) ? d
            : d with { Shadows = shadow ? [.. d.Shadows, version.Version] : d.Shadows.Where(v => v != version.Version).ToArray() });
    }

    private Task<ModelDeployment> Deploy(string name, Func<ModelDeployment, ModelDeployment> change)
    {
        ModelDeployment before = _deployments.TryGetValue(name, out ModelDeployment? d) ? d : ModelDeployment.Empty(name);
        ModelDeployment after = change(before);
        if (!ReferenceEquals(after, before))
        {
            after = after with { Epoch = before.Epoch + 1 };
            _deployments[name] = after;
        }
        return Task.FromResult(after);
    }

    private static Dictionary<string, AliasTarget> With(IReadOnlyDictionary<string, AliasTarget> aliases, string alias, AliasTarget target) =>
        new(aliases, StringComparer.Ordinal) { [alias] = target };

    private void RequireVersion(ModelRef model)
    {
        if (!_versions.ContainsKey(model))
        {
            throw NotFound(model);
        }
    }

    private static void CheckAliasName(string name, string alias)
    {
        if (string.IsNullOrWhiteSpace(alias) || alias.Contains(ModelRef.AliasMark, StringComparison.Ordinal) || alias.Any(char.IsWhiteSpace))
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': alias '{alias}' must be non-empty, without white space and without '{ModelRef.AliasMark}'");
        }
    }

    private static GridException NotFound(ModelRef model) => new(GridErrorKind.NotFound, $"model {model} is not registered");

    private static GridException RegisteredWithOtherBytes(ModelRef model) =>
        new(GridErrorKind.FailedPrecondition, $"model {model} is already registered with other bytes; register a new version");
}
