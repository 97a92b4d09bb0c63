using System.Text.Json.Nodes;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains.Models;
using MarketIntel.Inference;
using MarketIntel.Training.Drift;

namespace MarketIntel.Grains;

/// <summary>
/// The model registry. Versions are immutable once registered: the same name and version with other bytes is
/// refused, and so is a second, different lineage or reference profile. Versions, tags, lineage, profiles, the default and each model name's
/// deployment live in the silo's <see cref="IModelStore"/> (in memory on embedded defaults, PostgreSQL tables in
/// cluster mode): read at activation, and written there, with the change's audit record, before a change is
/// answered. The grain orchestrates: the versions and their rules (<see cref="RegistryVersions"/>), the
/// deployments and their changes (<see cref="RegistryDeployments"/>), the audit records (<see cref="RegistryAudit"/>)
/// and the silos told of each change (<see cref="ModelEventFanOut"/>) each live in their own class.
/// </summary>
[Placement.ServingPlacement]
public sealed class ModelRegistryGrain(IModelStore store, IServiceProvider services) : Grain, IModelRegistryGrain
{
    private readonly ModelLimits? _limits = services.GetService(typeof(ModelLimits)) as ModelLimits;
    private readonly PromotionMetrics? _promotions = services.GetService(typeof(PromotionMetrics)) as PromotionMetrics;
    private readonly RegistryVersions _versions = new();
    private readonly RegistryDeployments _deployments = new();
    private readonly ModelEventFanOut _silos = new();
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
        _versions.Load(catalog.Versions);
        foreach (string name in _versions.Names)
        {
            _promotions?.Known(name);
        }
        _default = catalog.Default;
        _deployments.Load(catalog.Deployments);
    }

    public async Task<ModelInfo> Register(string name, string version, byte[] bytes) =>
        (await Register(new ModelRegistration(name, version, bytes, null, null, null, ModelAudit.LocalClient))).Info;

    public async Task<ModelVersionDetails> Register(ModelRegistration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        (string name, string version, byte[] bytes, string? lineage, IReadOnlyDictionary<string, string>? tags, string? alias, string client) = registration;
        RegistryVersions.CheckNames(name, version);
        ArgumentNullException.ThrowIfNull(bytes);
        if (alias is not null)
        {
            RegistryDeployments.CheckAliasName(name, alias);
        }
        RegistryVersions.CheckTags(name, tags ?? new Dictionary<string, string>());
        var key = new ModelRef(name, version);
        if (!_versions.TryGet(key, out StoredModel? existing))
        {
            // Validation runs a client's model under a time budget (seconds): on the thread pool, so this turn yields
            // and the registry's reads ([AlwaysInterleave]) go on meanwhile. Validate touches nothing of the grain;
            // other changes still wait, so the check above and the insert below stay one step.
            ModelInfo info = await Task.Run(() => RegistryVersions.Validate(bytes, key, _limits));
            string sha = RegistryVersions.Sha256(bytes);
            if (lineage is not null)
            {
                info = info with { Label = LineageCheck.Label(lineage, info, sha) };
                ProfileCheck.InLineage(lineage, info);
            }
            var model = new StoredModel(info, bytes, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                new Dictionary<string, string>(tags ?? new Dictionary<string, string>(), StringComparer.Ordinal), lineage);
            var detail = new JsonObject { ["sha256"] = sha, ["kind"] = info.Kind, ["label"] = info.Label, ["tags"] = RegistryAudit.Json(model.Tags) };
            ModelAuditRecord audit = RegistryAudit.Of(key, ModelAudit.Register, client, detail);
            if (!await Stored(() => store.Add(model, audit)))
            {
                // Another registry activation (a silo that has since gone) stored it first: take what is stored.
                await Load();
                throw RegistryVersions.RegisteredWithOtherBytes(key);
            }
            bool newName = !_versions.HasName(name);
            _versions.Add(model);
            _promotions?.Known(name);
            await _silos.Publish(audit, null);
            if (newName)
            {
                // A new model name gets its retraining schedule; the schedule grain logs its own failures.
                GrainFactory.GetGrain<Retraining.Triggers.IRetrainScheduleGrain>(name).Apply().Ignore();
            }
        }
        else
        {
            // A registration sent again (a client retrying) is a no-op, but what it adds is still applied once.
            if (!existing!.Bytes.AsSpan().SequenceEqual(bytes))
            {
                throw RegistryVersions.RegisteredWithOtherBytes(key);
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
        if (alias is not null && !(_deployments.Of(name).Aliases.GetValueOrDefault(alias) is { Split: null } current && current.Version == version))
        {
            await SetAlias(name, alias, version, client);
        }
        return RegistryVersions.Details(_versions.Require(key));
    }

    public async Task<ModelVersionDetails> SetLineage(ModelRef model, string lineage, string client)
    {
        ArgumentNullException.ThrowIfNull(lineage);
        StoredModel stored = _versions.Require(model);
        if (stored.Lineage == lineage)
        {
            return RegistryVersions.Details(stored);
        }
        if (stored.Lineage is not null)
        {
            throw RegistryVersions.LineageSetAlready(model);
        }
        string label = LineageCheck.Label(lineage, stored.Info, RegistryVersions.Sha256(stored.Bytes));
        if (ProfileCheck.InLineage(lineage, stored.Info) is { } carried && stored.Profile is not null && carried.ToJson() != stored.Profile)
        {
            throw ProfileSetAlready(model, "its lineage carries another");
        }
        ModelAuditRecord audit = RegistryAudit.Of(model, ModelAudit.Lineage, client, new JsonObject { ["label"] = label });
        if (!await Stored(() => store.SetLineage(model, lineage, label, audit)))
        {
            await Load();
            throw RegistryVersions.LineageSetAlready(model);
        }
        StoredModel updated = stored with { Lineage = lineage, Info = stored.Info with { Label = label } };
        _versions.Replace(updated);
        await _silos.Publish(audit, null);
        return RegistryVersions.Details(updated);
    }

    public async Task<ModelVersionDetails> SetTags(ModelRef model, IReadOnlyDictionary<string, string> set, IReadOnlyList<string> remove, string client)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(remove);
        StoredModel stored = _versions.Require(model);
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
        RegistryVersions.CheckTags(model.Name, tags);
        var detail = new JsonObject { ["set"] = RegistryAudit.Json(set), ["removed"] = new JsonArray([.. remove.Select(r => JsonValue.Create(r))]) };
        ModelAuditRecord audit = RegistryAudit.Of(model, ModelAudit.Tags, client, detail);
        await Stored(async () =>
        {
            await store.SetTags(model, tags, audit);
            return true;
        });
        StoredModel updated = stored with { Tags = tags };
        _versions.Replace(updated);
        await _silos.Publish(audit, null);
        return RegistryVersions.Details(updated);
    }

    // The reads below interleave with a Register awaiting its validation or its store write. Turns still run one
    // at a time, so a read sees the versions either before a registration's insert or after it, never halfway,
    // and never a version before the store holds it.
    public Task<byte[]> GetBytes(ModelRef model) => Task.FromResult(_versions.Require(model).Bytes);

    public Task<ModelInfo> Describe(ModelRef model) => Task.FromResult(_versions.Require(model).Info);

    public Task<string?> GetProfile(ModelRef model) => Task.FromResult(RegistryVersions.ProfileOf(_versions.Require(model)));

    public async Task<ModelVersionDetails> SetProfile(ModelRef model, string profile, string client)
    {
        ArgumentNullException.ThrowIfNull(profile);
        StoredModel stored = _versions.Require(model);
        ReferenceProfile given = ProfileCheck.Parse(profile, stored.Info);
        // Stored in the one form the profile writes itself, so that the same profile sent again (other white space,
        // other number spellings) reads as the same.
        string json = given.ToJson();
        if (RegistryVersions.ProfileOf(stored) is { } held)
        {
            return ReferenceProfile.Parse(held).ToJson() == json ? RegistryVersions.Details(stored)
                : throw ProfileSetAlready(model, stored.Profile is null ? "its lineage carries one" : "it was given one");
        }
        var detail = new JsonObject { ["features"] = given.Features.Count, ["rows"] = given.Rows, ["source"] = given.Source, ["prediction"] = given.Prediction is not null };
        ModelAuditRecord audit = RegistryAudit.Of(model, ModelAudit.Profile, client, detail);
        if (!await Stored(() => store.SetProfile(model, json, audit)))
        {
            await Load();
            throw ProfileSetAlready(model, "it was given one");
        }
        StoredModel updated = stored with { Profile = json };
        _versions.Replace(updated);
        await _silos.Publish(audit, null);
        return RegistryVersions.Details(updated);
    }

    private static GridException ProfileSetAlready(ModelRef model, string why) =>
        new(GridErrorKind.FailedPrecondition, $"model {model} has another reference profile already ({why}); a version's profile is set once");

    public Task<IReadOnlyList<ModelDetails>> ListModels() =>
        Task.FromResult<IReadOnlyList<ModelDetails>>([.. _versions.Names.Select(Describe)]);

    public Task<ModelDetails> GetModel(string name) =>
        _versions.HasName(name) ? Task.FromResult(Describe(name)) : throw new GridException(GridErrorKind.NotFound, $"model '{name}' has no registered version");

    private ModelDetails Describe(string name) => new(name, [.. _versions.VersionsOf(name).Select(RegistryVersions.Details)], _deployments.Of(name));

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
            ModelDeployment deployment = _deployments.Of(decision.Name);
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
                _versions.Require(new ModelRef(decision.Name, decision.Challenger));
                await Deploy(decision.Name, decision.Challenger, ModelAudit.AliasSet, client, new JsonObject { ["alias"] = decision.Alias },
                    (d, detail) => RegistryDeployments.Promote(d, decision.Alias, decision.Challenger, detail));
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
        ModelAuditRecord audit = RegistryAudit.Of(new ModelRef(decision.Name, decision.Challenger), decision.Promoted ? ModelAudit.Promoted : ModelAudit.Rejected, client, detail);
        await Stored(async () =>
        {
            await store.AppendAudit(audit);
            return true;
        });
        // Counted once recorded: a decision whose audit record could not be stored was not made.
        _promotions?.Decided(decision, client);
        await _silos.Publish(audit, null);
        return decision;
    }

    public async Task SetDefault(ModelRef model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.IsAlias)
        {
            RegistryDeployments.CheckAliasName(model.Name, model.Alias!);
        }
        else
        {
            _versions.Require(model);
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

    public Task<ModelDeployment> GetDeployment(string name) => Task.FromResult(_deployments.Of(name));

    public Task<ModelDeployment> SetAlias(string name, string alias, string version, string client)
    {
        RegistryDeployments.CheckAliasName(name, alias);
        _versions.Require(new ModelRef(name, version));
        return Deploy(name, version, ModelAudit.AliasSet, client, new JsonObject { ["alias"] = alias }, (d, detail) => RegistryDeployments.MoveAlias(d, alias, version, detail));
    }

    public Task<ModelDeployment> RemoveAlias(string name, string alias, string client)
    {
        RegistryDeployments.CheckAliasName(name, alias);
        return Deploy(name, null, ModelAudit.AliasRemoved, client, new JsonObject { ["alias"] = alias }, (d, detail) => RegistryDeployments.RemoveAlias(d, alias, detail));
    }

    public Task<ModelDeployment> SetSplit(string name, string alias, ArmSplit? split, string client)
    {
        RegistryDeployments.CheckAliasName(name, alias);
        if (split is not null)
        {
            _versions.Require(new ModelRef(name, split.Version));
            RegistryDeployments.CheckSplitWeight(name, alias, split);
        }
        var detail = new JsonObject { ["alias"] = alias, ["arm"] = split?.Version, ["weight"] = split?.Weight };
        return Deploy(name, split?.Version, ModelAudit.Split, client, detail, (d, _) => RegistryDeployments.Split(d, alias, split));
    }

    public Task<ModelDeployment> SetAutoPromote(string name, string alias, bool autoPromote, string client)
    {
        RegistryDeployments.CheckAliasName(name, alias);
        return Deploy(name, null, ModelAudit.AutoPromote, client, new JsonObject { ["alias"] = alias, ["autoPromote"] = autoPromote },
            (d, _) => RegistryDeployments.AutoPromote(d, alias, autoPromote));
    }

    public Task<ModelDeployment> SetShadow(ModelRef version, bool shadow, string client)
    {
        ArgumentNullException.ThrowIfNull(version);
        _versions.Require(version);
        return Deploy(version.Name, version.Version, shadow ? ModelAudit.ShadowAdded : ModelAudit.ShadowRemoved, client, [],
            (d, _) => RegistryDeployments.Shadow(d, version.Version, shadow));
    }

    // Applies a change to a model name's deployment: stored with its audit record first, then served. A change
    // that changes nothing (a shadow added twice) is neither stored nor audited.
    private async Task<ModelDeployment> Deploy(string name, string? version, string action, string client, JsonObject detail, Func<ModelDeployment, JsonObject, ModelDeployment> change)
    {
        ModelDeployment before = _deployments.Of(name);
        ModelDeployment after = change(before, detail);
        if (ReferenceEquals(after, before))
        {
            return before;
        }
        after = after with { Epoch = before.Epoch + 1 };
        ModelAuditRecord audit = RegistryAudit.Of(name, version, action, client, detail);
        await Stored(async () =>
        {
            await store.SaveDeployment(after, audit);
            return true;
        });
        _deployments.Set(after);
        await _silos.Publish(audit, after);
        return after;
    }

    public Task Subscribe(IModelEventObserver observer, TimeSpan lease)
    {
        _silos.Subscribe(observer, lease);
        return Task.CompletedTask;
    }

    public Task Unsubscribe(IModelEventObserver observer)
    {
        _silos.Unsubscribe(observer);
        return Task.CompletedTask;
    }

    public Task PublishNotice(ModelAuditRecord change)
    {
        ArgumentNullException.ThrowIfNull(change);
        return _silos.Publish(change, null);
    }
}
