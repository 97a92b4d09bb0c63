using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Grains.Models;

namespace MarketIntel.Server.Application;

/// <summary>
/// What the grid does for a request to its model registry, written once for the APIs: each change names the client
/// it is made for (an API key's name or a token's subject, <see cref="ModelAudit.LocalClient"/> without keys), which
/// the registry writes into the change's audit record.
/// </summary>
internal sealed class ModelOperations(IGrainFactory grains, PromotionTrial trial)
{
    /// <summary>The alias a promotion takes over unless the request names another.</summary>
    public const string DefaultPromotionAlias = "champion";

    private IModelRegistryGrain Registry => grains.GetGrain<IModelRegistryGrain>(0);

    /// <summary>Registers a version with its optional lineage, tags and alias.</summary>
    public Task<ModelVersionDetails> Register(ModelRegistration registration) => Registry.Register(registration);

    /// <summary>Sets a version's lineage (once).</summary>
    public Task<ModelVersionDetails> SetLineage(ModelRef model, string lineage, string client) => Registry.SetLineage(model, lineage, client);

    /// <summary>Sets and removes tags of a version.</summary>
    public Task<ModelVersionDetails> SetTags(ModelRef model, IReadOnlyDictionary<string, string> set, IReadOnlyList<string> remove, string client) =>
        Registry.SetTags(model, set, remove, client);

    /// <summary>Every model name with its versions and deployment.</summary>
    public Task<IReadOnlyList<ModelDetails>> List() => Registry.ListModels();

    /// <summary>One model name with its versions and deployment.</summary>
    public Task<ModelDetails> Get(string name) => Registry.GetModel(name);

    /// <summary>Points an alias at a version (and, when given, sets its automatic promotion policy).</summary>
    public async Task<ModelDeployment> SetAlias(string name, string alias, string version, bool? autoPromote, string client)
    {
        ModelDeployment deployment = await Registry.SetAlias(name, alias, version, client);
        return autoPromote is { } policy ? await Registry.SetAutoPromote(name, alias, policy, client) : deployment;
    }

    /// <summary>Removes an alias.</summary>
    public Task<ModelDeployment> RemoveAlias(string name, string alias, string client) => Registry.RemoveAlias(name, alias, client);

    /// <summary>Splits an alias's assets with a second version (null ends the split).</summary>
    public Task<ModelDeployment> SetSplit(string name, string alias, ArmSplit? split, string client) => Registry.SetSplit(name, alias, split, client);

    /// <summary>Makes a version a shadow of its model name, or stops it being one.</summary>
    public Task<ModelDeployment> SetShadow(ModelRef model, bool shadow, string client) => Registry.SetShadow(model, shadow, client);

    /// <summary>
    /// Runs the promotion gate on <paramref name="challenger"/> against the version <paramref name="alias"/> names, from
    /// the model's cluster-wide scores, and has the registry carry the decision out (moving the alias when the gate
    /// passed, if it still names the champion judged) and record it. Returns the decision as recorded.
    /// </summary>
    public async Task<PromotionDecision> Promote(string name, string challenger, string alias, string client) =>
        await trial.Record(await trial.Judge(name, challenger, alias), client);

    /// <summary>A model name's last audit records, oldest first.</summary>
    public Task<IReadOnlyList<ModelAuditRecord>> Audit(string name, int limit) => Registry.GetAudit(name, limit);
}
