using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains;
using MarketIntel.Grains.Models;

namespace MarketIntel.Server.Application;

/// <summary>
/// A model name's live outcome scores, for both APIs: over every asset from the <see cref="IScoreStore"/> (as the asset
/// grains last wrote them), or over one asset from its grain (as it stands now), with the name's deployment that tells
/// each version's role; over every asset also what the <see cref="PromotionGate"/> would decide now on each challenger.
/// </summary>
internal sealed class ModelScoresQuery(IGrainFactory grains, IScoreStore store, PromotionGate gate)
{
    /// <summary>The gate the decisions come from, with the settings it holds challengers to.</summary>
    public PromotionGate Gate => gate;

    /// <summary>
    /// The scores of model <paramref name="name"/> (a checked name), over every asset or over <paramref name="asset"/>
    /// (a checked symbol), and the gate's decisions, not recorded, on each challenger: from the very totals returned,
    /// which are what a promotion reads, and by the gate's own <see cref="PromotionGate.Decide(string, string, string, string, ModelScores)"/>.
    /// None for one asset: the gate never judges on one asset's outcomes.
    /// </summary>
    public async Task<(ModelScores Scores, ModelDeployment Deployment, IReadOnlyList<PromotionDecision> Gate)> Get(string name, string? asset)
    {
        ModelScores scores;
        if (asset is null)
        {
            try
            {
                scores = await store.Totals(name);
            }
            catch (Exception e) when (e is not GridException and not OperationCanceledException)
            {
                throw GridException.Unavailable($"the scores of model '{name}' could not be read", e);
            }
        }
        else
        {
            ModelScores all = await GrainRetry.OnRejection(() => grains.GetGrain<IAssetGrain>(asset).GetScores());
            scores = new ModelScores([.. all.Versions.Where(t => t.Model.Name == name)], [.. all.Pairs.Where(p => p.Champion.Name == name)]);
        }
        ModelDeployment deployment = await grains.GetGrain<IModelRegistryGrain>(0).GetDeployment(name);
        return (scores, deployment, asset is null ? gate.DecideChallengers(deployment, scores) : []);
    }
}
