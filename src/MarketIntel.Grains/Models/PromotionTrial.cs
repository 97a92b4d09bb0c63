using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;

namespace MarketIntel.Grains.Models;

/// <summary>
/// Running the promotion gate, once for both paths that do it: a person's <c>models promote</c> (through the server's
/// <c>ModelOperations</c>) and the automatic policy (<see cref="AutoPromotionGrain"/>). It reads the model's cluster-wide
/// score totals, has the <see cref="PromotionGate"/> decide, and has the registry carry a decision out and record it
/// (<see cref="IModelRegistryGrain.RecordDecision"/> moves the alias in the same turn in which it checks that the alias
/// still names the champion judged).
/// </summary>
public sealed class PromotionTrial(IGrainFactory grains, IScoreStore scores, PromotionGate gate)
{
    private IModelRegistryGrain Registry => grains.GetGrain<IModelRegistryGrain>(0);

    /// <summary>
    /// The gate's decision on <paramref name="challenger"/> replacing the version <paramref name="alias"/> of model
    /// <paramref name="name"/> names, not yet recorded: NOT_FOUND for an alias or version that does not exist,
    /// INVALID_ARGUMENT when the alias names the challenger already.
    /// </summary>
    public async Task<PromotionDecision> Judge(string name, string challenger, string alias)
    {
        ModelDeployment deployment = await Registry.GetDeployment(name);
        AliasTarget target = deployment.Aliases.GetValueOrDefault(alias)
            ?? throw new GridException(GridErrorKind.NotFound, $"model '{name}' has no alias '{alias}' to promote a challenger to");
        if (challenger == target.Version)
        {
            throw new GridException(GridErrorKind.InvalidArgument, $"model '{name}': {challenger} is already what alias '{alias}' names");
        }
        await Registry.Describe(new ModelRef(name, challenger));  // NOT_FOUND for a version that is not registered
        return gate.Decide(name, alias, target.Version, challenger, await Totals(name));
    }

    /// <summary>
    /// The gate's decisions, not yet recorded, on each shadow of <paramref name="deployment"/> replacing the version
    /// <paramref name="alias"/> names (none when the alias is not set), from one reading of the model's totals.
    /// </summary>
    public async Task<IReadOnlyList<PromotionDecision>> JudgeShadows(ModelDeployment deployment, string alias)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        if (deployment.Aliases.GetValueOrDefault(alias) is not { } target)
        {
            return [];
        }
        string[] challengers = [.. deployment.Shadows.Where(v => v != target.Version)];
        if (challengers.Length == 0)
        {
            return [];
        }
        ModelScores totals = await Totals(deployment.Name);
        return [.. challengers.Select(challenger => gate.Decide(deployment.Name, alias, target.Version, challenger, totals))];
    }

    /// <summary>Has the registry carry <paramref name="decision"/> out and record it for <paramref name="client"/>; returns it as recorded.</summary>
    public Task<PromotionDecision> Record(PromotionDecision decision, string client) => Registry.RecordDecision(decision, client);

    private async Task<ModelScores> Totals(string name)
    {
        try
        {
            return await scores.Totals(name);
        }
        catch (Exception e) when (e is not GridException)
        {
            throw GridException.Unavailable($"model '{name}': the live scores could not be read", e);
        }
    }
}
