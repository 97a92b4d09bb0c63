using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Inference;

namespace MarketIntel.Grains;

/// <summary>
/// The model registry. Versions are immutable once registered: the same name and version with other bytes is
/// refused, and so is a second, different lineage. Versions, tags, lineage, the default and each model name's
/// deployment live in the silo's <see cref="IModelStore"/> (in memory on embedded defaults, PostgreSQL tables in
/// cluster mode): read at activation, and written there, with the change's audit record, before a change is
/// answered.
/// </summary>
public sealed class ModelRegistryGrain(IModelStore store, IServiceProvider services) : Grain, IModelRegistryGrain
{
    /// <summary>The most tags a version may carry, and the longest key and value.</summary>
    public const int MaxTags = 64, MaxTagKeyLength = 128, MaxTagValueLength = 1024;

    private readonly ModelLimits? _limits = services.GetService(typeof(ModelLimits)) as ModelLimits;
    private Dictionary<ModelRef, StoredModel> _versions = [];
    private List<ModelRef> _order = [];
    private ModelRef? _default;
    private Dictionary<string, ModelDeployment> _deployments = new(StringComparer.Ordinal);
    private readonly Dictionary<IModelEventObserver, DateTime> _observers = [];

    /// <summary>How long a change waits for the silos to apply it before it is answered anyway (a silo that is slower catches up by its poll).</summary>
    public static readonly TimeSpan DeliveryBound = TimeSpan.FromSeconds(5);

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
        _order = [.. catalog.Versions.Select(v => v.Info.Model)];
        _default = catalog.Default;
        _deployments = catalog.Deployments.ToDictionary(d => d.Name, StringComparer.Ordinal);
    }

    public async Task<ModelInfo> Register(string name, string version, byte[] bytes) =>
        (await Register(new ModelRegistration(name, version, bytes, null, null, null, ModelAudit.LocalClient))).Info;

    public async Task<ModelVersionDetails> Register(ModelRegistration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        (string name, string version, byte[] bytes, string? lineage, IReadOnlyDictionary<string, string>? tags, string? alias, string client) = registration;
        if (string.IsNullOrWhiteSpace(name) || name.Contains(ModelRef.AliasMark, StringComparison.Ordinal))
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model name '{name}' must be non-empty and without '@'");
        }
        if (string.IsNullOrWhiteSpace(version) || version[0] == ModelRef.AliasMark)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': version '{version}' must be non-empty and not start with '{ModelRef.AliasMark}' (that marks an alias)");
        }
        ArgumentNullException.ThrowIfNull(bytes);
        if (alias is not null)
        {
            CheckAliasName(name, alias);
        }
        CheckTags(name, tags ?? new Dictionary<string, string>());
        var key = new ModelRef(name, version);
        if (!_versions.TryGetValue(key, out StoredModel? existing))
        {
            // Validation runs a client's model under a time budget (seconds): on the thread pool, so this turn yields
            // and the registry's reads ([AlwaysInterleave]) go on meanwhile. Validate touches nothing of the grain;
            // other changes still wait, so the check above and the insert below stay one step.
            ModelInfo info = await Task.Run(() => Validate(bytes, key, _limits));
            string sha = Sha256(bytes);
            if (lineage is not null)
            {
                info = info with { Label = LineageCheck.Label(lineage, info, sha) };
            }
            var model = new StoredModel(info, bytes, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                new Dictionary<string, string>(tags ?? new Dictionary<string, string>(), StringComparer.Ordinal), lineage);
            var detail = new JsonObject { ["sha256"] = sha, ["kind"] = info.Kind, ["label"] = info.Label, ["tags"] = Json(model.Tags) };
            ModelAuditRecord audit = Audit(key, ModelAudit.Register, client, detail);
            if (!await Stored(() => store.Add(model, audit)))
            {
                // Another registry activation (a silo that has since gone) stored it first: take what is stored.
                await Load();
                throw RegisteredWithOtherBytes(key);
            }
            _versions[key] = model;
            _order.Add(key);
            await Publish(audit, null);
        }
        else
        {
            // A registration sent again (a client retrying) is a no-op, but what it adds is still applied once.
            if (!existing.Bytes.AsSpan().SequenceEqual(bytes))
            {
                throw RegisteredWithOtherBytes(key);
            }
            if (lineage is not null)
            {
                await SetLineage(key, lineage, client);
            }
            if (tags is not null && tags.Any(t => existing.Tags.GetValueOrDefault(t.Key) != t.Value))
            {
                await SetTags(key, tags, [], client);
            }
        }
        if (alias is not null && !(Deployment(name).Aliases.GetValueOrDefault(alias) is { Split: null } current && current.Version == version))
        {
            await SetAlias(name, alias, version, client);
        }
        return Details(_versions[key]);
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

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public async Task<ModelVersionDetails> SetLineage(ModelRef model, string lineage, string client)
    {
        ArgumentNullException.ThrowIfNull(lineage);
        StoredModel stored = Require(model);
        if (stored.Lineage == lineage)
        {
            return Details(stored);
        }
        if (stored.Lineage is not null)
        {
            throw LineageSetAlready(model);
        }
        string label = LineageCheck.Label(lineage, stored.Info, Sha256(stored.Bytes));
        ModelAuditRecord audit = Audit(model, ModelAudit.Lineage, client, new JsonObject { ["label"] = label });
        if (!await Stored(() => store.SetLineage(model, lineage, label, audit)))
        {
            await Load();
            throw LineageSetAlready(model);
        }
        StoredModel updated = stored with { Lineage = lineage, Info = stored.Info with { Label = label } };
        _versions[model] = updated;
        await Publish(audit, null);
        return Details(updated);
    }

    public async Task<ModelVersionDetails> SetTags(ModelRef model, IReadOnlyDictionary<string, string> set, IReadOnlyList<string> remove, string client)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(remove);
        StoredModel stored = Require(model);
        var tags = new Dictionary<string, string>(stored.Tags, StringComparer.Ordinal);
        foreach (string key in remove)
        {
            if (!tags.Remove(key))
            {
                throw new GridException(GridErrorKind.NotFound, $"model {model} has no tag '{key}' to remove");
            }
        }
        foreach (var (key, value) in set)
        {
            tags[key] = value;
        }
        CheckTags(model.Name, tags);
        var detail = new JsonObject { ["set"] = Json(set), ["removed"] = new JsonArray([.. remove.Select(r => JsonValue.Create(r))]) };
        ModelAuditRecord audit = Audit(model, ModelAudit.Tags, client, detail);
        await Stored(async () =>
        {
            await store.SetTags(model, tags, audit);
            return true;
        });
        StoredModel updated = stored with { Tags = tags };
        _versions[model] = updated;
        await Publish(audit, null);
        return Details(updated);
    }

    private static void CheckTags(string name, IReadOnlyDictionary<string, string> tags)
    {
        if (tags.Count > MaxTags)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': {tags.Count} tags; a version carries at most {MaxTags}");
        }
        foreach (var (key, value) in tags)
        {
            if (string.IsNullOrWhiteSpace(key) || key.Length > MaxTagKeyLength || key.Any(char.IsControl))
            {
                throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': tag key '{key}' must be 1 to {MaxTagKeyLength} characters, not blank, without control characters");
            }
            if (value is null || value.Length > MaxTagValueLength || value.Any(char.IsControl))
            {
                throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': the value of tag '{key}' must be at most {MaxTagValueLength} characters, without control characters");
            }
        }
    }

    // The reads below interleave with a Register awaiting its validation or its store write. Turns still run one
    // at a time, so a read sees the versions either before a registration's insert or after it, never halfway,
    // and never a version before the store holds it.
    public Task<byte[]> GetBytes(ModelRef model) => Task.FromResult(Require(model).Bytes);

    public Task<ModelInfo> Describe(ModelRef model) => Task.FromResult(Require(model).Info);

    public Task<string?> GetProfile(ModelRef model) => Task.FromResult(ProfileOf(Require(model)));

    // The profile a version's lineage carries (train and backtest write one there), as its JSON text.
    private static string? ProfileOf(StoredModel model)
    {
        if (model.Lineage is null)
        {
            return null;
        }
        using var lineage = System.Text.Json.JsonDocument.Parse(model.Lineage);
        return lineage.RootElement.TryGetProperty("profile", out var profile) && profile.ValueKind == System.Text.Json.JsonValueKind.Object
            ? profile.GetRawText() : null;
    }

    public Task<IReadOnlyList<ModelDetails>> ListModels() =>
        Task.FromResult<IReadOnlyList<ModelDetails>>([.. _order.Select(m => m.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Select(Describe)]);

    public Task<ModelDetails> GetModel(string name) =>
        _order.Any(m => m.Name == name) ? Task.FromResult(Describe(name)) : throw new GridException(GridErrorKind.NotFound, $"model '{name}' has no registered version");

    private ModelDetails Describe(string name) => new(name, [.. _order.Where(m => m.Name == name).Select(m => Details(_versions[m]))], Deployment(name));

    private static ModelVersionDetails Details(StoredModel model) =>
        new(model.Info, Sha256(model.Bytes), model.CreatedAt, model.Tags, model.Lineage);

    public async Task<IReadOnlyList<ModelAuditRecord>> GetAudit(string name, int limit)
    {
        if (limit is < 1 or > 10_000)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"audit limit {limit} must be between 1 and 10000");
        }
        try
        {
            return await store.ReadAudit(name, limit);
        }
        catch (Exception e) when (e is not GridException)
        {
            throw GridException.Unavailable("the model registry's audit log could not be read", e);
        }
    }

    public async Task<PromotionDecision> RecordDecision(PromotionDecision decision, string client)
    {
        ArgumentNullException.ThrowIfNull(decision);
        if (decision.Promoted)
        {
            // In this turn: nothing moves the alias between the check and the move.
            ModelDeployment deployment = Deployment(decision.Name);
            if (deployment.Aliases.GetValueOrDefault(decision.Alias)?.Version != decision.Champion)
            {
                decision = decision with
                {
                    Promoted = false,
                    Reason = $"refused: alias '{decision.Alias}' no longer names {decision.Champion}, the champion the gate judged the challenger against; run the gate again",
                };
            }
            else
            {
                var challenger = new ModelRef(decision.Name, decision.Challenger);
                Require(challenger);
                await Deploy(decision.Name, decision.Challenger, ModelAudit.AliasSet, client, new JsonObject { ["alias"] = decision.Alias }, (d, detail) =>
                    MoveAlias(d, decision.Alias, decision.Challenger, detail) with { Shadows = d.Shadows.Where(v => v != decision.Challenger).ToArray() });
            }
        }
        var detail = new JsonObject
        {
            ["alias"] = decision.Alias,
            ["champion"] = decision.Champion,
            ["challenger"] = decision.Challenger,
            ["promoted"] = decision.Promoted,
            ["reason"] = decision.Reason,
            ["pairs"] = decision.Pairs,
            ["decidedAt"] = decision.DecidedAt,
            // JSON has no NaN or infinity: a statistic the gate could not compute is null.
            ["statistics"] = new JsonObject(decision.Statistics.Select(s => KeyValuePair.Create(s.Key, double.IsFinite(s.Value) ? JsonValue.Create(s.Value) : (JsonNode?)null))),
        };
        ModelAuditRecord audit = Audit(new ModelRef(decision.Name, decision.Challenger), decision.Promoted ? ModelAudit.Promoted : ModelAudit.Rejected, client, detail);
        await Stored(async () =>
        {
            await store.AppendAudit(audit);
            return true;
        });
        await Publish(audit, null);
        return decision;
    }

    public async Task SetDefault(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.IsAlias)
        {
            CheckAliasName(model.Name, model.Alias!);
        }
        else
        {
            Require(model);
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

    public Task<ModelDeployment> GetDeployment(string name) => Task.FromResult(Deployment(name));

    private ModelDeployment Deployment(string name) =>
        _deployments.TryGetValue(name, out ModelDeployment? deployment) ? deployment : ModelDeployment.Empty(name);

    public Task<ModelDeployment> SetAlias(string name, string alias, string version, string client)
    {
        CheckAliasName(name, alias);
        Require(new ModelRef(name, version));
        return Deploy(name, version, ModelAudit.AliasSet, client, new JsonObject { ["alias"] = alias }, (d, detail) => MoveAlias(d, alias, version, detail));
    }

    // Points an alias at a version, ending its split and keeping its automatic-promotion policy; the audit detail
    // says where it pointed before.
    private static ModelDeployment MoveAlias(ModelDeployment deployment, string alias, string version, JsonObject detail)
    {
        AliasTarget? before = deployment.Aliases.GetValueOrDefault(alias);
        detail["from"] = before?.Version;
        return deployment with { Aliases = With(deployment.Aliases, alias, new AliasTarget(version, null, before?.AutoPromote ?? false)) };
    }

    public Task<ModelDeployment> RemoveAlias(string name, string alias, string client)
    {
        CheckAliasName(name, alias);
        return Deploy(name, null, ModelAudit.AliasRemoved, client, new JsonObject { ["alias"] = alias }, (d, detail) =>
        {
            detail["from"] = d.Aliases.TryGetValue(alias, out AliasTarget? target) ? target.Version
                : throw new GridException(GridErrorKind.NotFound, $"model '{name}' has no alias '{alias}'");
            return d with { Aliases = d.Aliases.Where(a => a.Key != alias).ToDictionary(StringComparer.Ordinal) };
        });
    }

    public Task<ModelDeployment> SetSplit(string name, string alias, ArmSplit? split, string client)
    {
        CheckAliasName(name, alias);
        if (split is not null)
        {
            Require(new ModelRef(name, split.Version));
            if (!(split.Weight is > 0 and < 1))
            {
                throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}' alias '{alias}': split weight {split.Weight} must be between 0 and 1 (exclusive)");
            }
        }
        var detail = new JsonObject { ["alias"] = alias, ["arm"] = split?.Version, ["weight"] = split?.Weight };
        return Deploy(name, split?.Version, ModelAudit.Split, client, detail, (d, _) => d.Aliases.TryGetValue(alias, out AliasTarget? target)
            ? d with { Aliases = With(d.Aliases, alias, target with { Split = split }) }
            : throw new GridException(GridErrorKind.FailedPrecondition, $"model '{name}' has no alias '{alias}' to split; set it first"));
    }

    public Task<ModelDeployment> SetAutoPromote(string name, string alias, bool autoPromote, string client)
    {
        CheckAliasName(name, alias);
        return Deploy(name, null, ModelAudit.AutoPromote, client, new JsonObject { ["alias"] = alias, ["autoPromote"] = autoPromote }, (d, _) =>
            d.Aliases.TryGetValue(alias, out AliasTarget? target)
                ? target.AutoPromote == autoPromote ? d : d with { Aliases = With(d.Aliases, alias, target with { AutoPromote = autoPromote }) }
                : throw new GridException(GridErrorKind.FailedPrecondition, $"model '{name}' has no alias '{alias}'; set it first"));
    }

    public Task<ModelDeployment> SetShadow(ModelRef version, bool shadow, string client)
    {
        ArgumentNullException.ThrowIfNull(version);
        Require(version);
        return Deploy(version.Name, version.Version, shadow ? ModelAudit.ShadowAdded : ModelAudit.ShadowRemoved, client, [], (d, _) => shadow == d.Shadows.Contains(version.Version) ? d
            : d with { Shadows = shadow ? [.. d.Shadows, version.Version] : d.Shadows.Where(v => v != version.Version).ToArray() });
    }

    // Applies a change to a model name's deployment: stored with its audit record first, then served. A change
    // that changes nothing (a shadow added twice) is neither stored nor audited.
    private async Task<ModelDeployment> Deploy(string name, string? version, string action, string client, JsonObject detail, Func<ModelDeployment, JsonObject, ModelDeployment> change)
    {
        ModelDeployment before = Deployment(name);
        ModelDeployment after = change(before, detail);
        if (ReferenceEquals(after, before))
        {
            return before;
        }
        after = after with { Epoch = before.Epoch + 1 };
        ModelAuditRecord audit = Audit(name, version, action, client, detail);
        await Stored(async () =>
        {
            await store.SaveDeployment(after, audit);
            return true;
        });
        _deployments[name] = after;
        await Publish(audit, after);
        return after;
    }

    public Task Subscribe(IModelEventObserver observer, TimeSpan lease)
    {
        ArgumentNullException.ThrowIfNull(observer);
        _observers[observer] = DateTime.UtcNow + lease;
        return Task.CompletedTask;
    }

    public Task Unsubscribe(IModelEventObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        _observers.Remove(observer);
        return Task.CompletedTask;
    }

    public Task PublishDrift(ModelAuditRecord change)
    {
        ArgumentNullException.ThrowIfNull(change);
        return Publish(change, null);
    }

    // Tells every subscribed silo of a stored change and waits for them (at most DeliveryBound), so that a moved
    // alias serves on every silo by the time the move is answered. A silo whose call fails is dropped until it
    // subscribes again; one that is only slow keeps its subscription and catches up meanwhile by its poll.
    private async Task Publish(ModelAuditRecord change, ModelDeployment? deployment)
    {
        DateTime now = DateTime.UtcNow;
        foreach (IModelEventObserver lapsed in _observers.Where(o => o.Value < now).Select(o => o.Key).ToArray())
        {
            _observers.Remove(lapsed);
        }
        if (_observers.Count == 0)
        {
            return;
        }
        var message = new ModelEvent(change, deployment);
        IModelEventObserver[] observers = [.. _observers.Keys];
        Task<bool>[] calls = [.. observers.Select(o => Deliver(o, message))];
        await Task.WhenAny(Task.WhenAll(calls), Task.Delay(DeliveryBound));
        for (int i = 0; i < calls.Length; i++)
        {
            if (calls[i].IsCompleted && !calls[i].Result)
            {
                _observers.Remove(observers[i]);
            }
        }
    }

    // An observer's failure is its silo's problem (it re-subscribes once it is back): any exception means "drop it".
    private static async Task<bool> Deliver(IModelEventObserver observer, ModelEvent message)
    {
        try
        {
            await observer.OnModelEvent(message);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return false;
        }
    }

    private static ModelAuditRecord Audit(ModelRef model, string action, string client, JsonObject detail) => Audit(model.Name, model.Version, action, client, detail);

    private static ModelAuditRecord Audit(string name, string? version, string action, string client, JsonObject detail) =>
        new(0, name, action, version, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            string.IsNullOrWhiteSpace(client) ? ModelAudit.LocalClient : client, detail.ToJsonString());

    private static JsonObject Json(IEnumerable<KeyValuePair<string, string>> tags) => new(tags.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)t.Value)));

    private static Dictionary<string, AliasTarget> With(IReadOnlyDictionary<string, AliasTarget> aliases, string alias, AliasTarget target) =>
        new(aliases, StringComparer.Ordinal) { [alias] = target };

    private StoredModel Require(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return _versions.TryGetValue(model, out StoredModel? stored) ? stored : throw NotFound(model);
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

    private static GridException LineageSetAlready(ModelRef model) =>
        new(GridErrorKind.FailedPrecondition, $"model {model} has another lineage already; a version's lineage is set once");
}
