using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Models;

/// <summary>
/// The automatic promotion policy (<see cref="IAutoPromotionGrain"/>): for every alias with
/// <see cref="AliasTarget.AutoPromote"/> set, the <see cref="PromotionTrial"/> judges each shadow of its model name
/// against the version the alias names, as <c>models promote</c> would. When some pass, the one with the largest
/// improvement in mean loss is promoted (the registry moves the alias and records the decision); the others are judged
/// again next time against the new champion, on pairs scored beside it.
/// <para>
/// Refusals are recorded too, but not every interval: a challenger refused again on much the same data says nothing
/// new, and a row a minute per challenger would bury the audit log. A refusal is recorded the first time this
/// activation judges that (alias, champion, challenger), when the pairs reach <c>Grid:Promotion:MinPairs</c>, and
/// whenever the pairs have doubled since the last recorded one: about log2(pairs) rows per challenger, each on
/// materially more evidence. Promotions are always recorded.
/// </para>
/// </summary>
[Placement.ServingPlacement]
public sealed partial class AutoPromotionGrain(PromotionTrial trial, IOptions<PromotionGateOptions> options, ILogger<AutoPromotionGrain> log)
    : Grain, IAutoPromotionGrain
{
    /// <summary>The client the policy's decisions are recorded for in the audit log.</summary>
    public const string Client = "auto-promote";

    private readonly PromotionGateOptions _options = options.Value;
    private readonly Dictionary<(string Name, string Alias, string Champion, string Challenger), long> _recordedPairs = [];
    private long _checks;
    private long _lastCheckAt;
    private long _recorded;

    private IModelRegistryGrain Registry => GrainFactory.GetGrain<IModelRegistryGrain>(0);

    public async Task Check()
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // Every silo asks once an interval; nine tenths of one apart leaves room for their timers' jitter.
        if (_lastCheckAt != 0 && now - _lastCheckAt < _options.CheckInterval.TotalMilliseconds * 0.9)
        {
            return;
        }
        foreach (ModelDetails model in await Registry.ListModels())
        {
            try
            {
                await CheckModel(model.Deployment);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogCheckFailed(model.Name, e);  // the next interval tries again; other models go on
            }
        }
        _checks++;
        _lastCheckAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    }

    public Task<AutoPromotionStatus> GetStatus() => Task.FromResult(new AutoPromotionStatus(_checks, _lastCheckAt, _recorded));

    private async Task CheckModel(ModelDeployment deployment)
    {
        foreach (string alias in deployment.Aliases.Where(a => a.Value.AutoPromote).Select(a => a.Key).Order(StringComparer.Ordinal).ToArray())
        {
            IReadOnlyList<PromotionDecision> decisions = await trial.JudgeShadows(deployment, alias);
            PromotionDecision? best = decisions.Where(d => d.Promoted).MaxBy(d => d.Statistics.GetValueOrDefault(PromotionStatistics.Improvement));
            foreach (PromotionDecision refused in decisions.Where(d => !d.Promoted))
            {
                if (Worth(refused))
                {
                    await Record(refused);
                }
            }
            if (best is not null && (await Record(best)).Promoted)
            {
                LogPromoted(deployment.Name, alias, best.Champion, best.Challenger, best.Pairs);
                // The alias moved: later aliases are judged on the deployment as it is now.
                deployment = await Registry.GetDeployment(deployment.Name);
            }
        }
    }

    // Whether a refusal says enough that is new to go to the audit log (see the class's remarks).
    private bool Worth(PromotionDecision decision)
    {
        if (!_recordedPairs.TryGetValue((decision.Name, decision.Alias, decision.Champion, decision.Challenger), out long last))
        {
            return true;
        }
        return (decision.Pairs >= _options.MinPairs && last < _options.MinPairs) || (decision.Pairs > last && decision.Pairs >= 2 * last);
    }

    private async Task<PromotionDecision> Record(PromotionDecision decision)
    {
        PromotionDecision recorded = await trial.Record(decision, Client);
        _recordedPairs[(decision.Name, decision.Alias, decision.Champion, decision.Challenger)] = decision.Pairs;
        _recorded++;
        return recorded;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The automatic promotion check of model '{Name}' failed; tried again at the next interval")]
    private partial void LogCheckFailed(string name, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model '{Name}': alias '{Alias}' moved from {Champion} to {Challenger} by the automatic promotion policy, on {Pairs} paired outcomes")]
    private partial void LogPromoted(string name, string alias, string champion, string challenger, long pairs);
}
