using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Grains;

namespace MarketIntel.Server.Application;

/// <summary>
/// A model name's live outcome scores, for both APIs: over every asset from the <see cref="IScoreStore"/> (as the asset
/// grains last wrote them), or over one asset from its grain (as it stands now), with the name's deployment that tells
/// each version's role.
/// </summary>
internal sealed class ModelScoresQuery(IGrainFactory grains, IScoreStore store)
{
    /// <summary>The scores of model <paramref name="name"/> (a checked name), over every asset or over <paramref name="asset"/> (a checked symbol).</summary>
    public async Task<(ModelScores Scores, ModelDeployment Deployment)> Get(string name, string? asset)
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
        return (scores, deployment);
    }
}
