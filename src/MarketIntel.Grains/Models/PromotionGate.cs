using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Hosting;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features;
using MarketIntel.Training.Statistics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Models;

/// <summary>The names of the statistics a <see cref="PromotionDecision"/> carries (its <c>Statistics</c> dictionary).</summary>
public static class PromotionStatistics
{
    /// <summary>Paired outcomes, <c>n</c>.</summary>
    public const string Pairs = "pairs";
    /// <summary>Pairs only the champion called right (McNemar's b).</summary>
    public const string ChampionOnlyHits = "b";
    /// <summary>Pairs only the challenger called right (McNemar's c).</summary>
    public const string ChallengerOnlyHits = "c";
    /// <summary>The exact McNemar test's two-sided p-value (1 with no discordant pair).</summary>
    public const string McNemarP = "mcnemarP";
    /// <summary>Mean of <c>loss(champion) - loss(challenger)</c> over the pairs: positive where the challenger is better.</summary>
    public const string MeanLossDifference = "meanLossDifference";
    /// <summary>The long-run variance of the loss differences the test used.</summary>
    public const string LongRunVariance = "longRunVariance";
    /// <summary>1 when the lag sum was not positive and the lag-0 variance was used instead, else 0.</summary>
    public const string LagZeroOnly = "lagZeroOnly";
    /// <summary>Diebold and Mariano's statistic (0 when no test was possible).</summary>
    public const string DmStatistic = "dmStatistic";
    /// <summary>The statistic with the Harvey-Leybourne-Newbold correction.</summary>
    public const string HlnStatistic = "hlnStatistic";
    /// <summary>One-sided p-value (challenger better) of the corrected statistic, t with n-1 df.</summary>
    public const string DmP = "dmP";
    /// <summary>Two-sided p-value of the corrected statistic.</summary>
    public const string DmPTwoSided = "dmPTwoSided";
    /// <summary>The mean loss difference as a share of the champion's mean loss.</summary>
    public const string Improvement = "improvement";
    /// <summary>The champion's mean loss (log loss or squared error) over its outcomes.</summary>
    public const string ChampionLoss = "championLoss";
    /// <summary>The challenger's mean loss over its outcomes.</summary>
    public const string ChallengerLoss = "challengerLoss";
    /// <summary>The champion's share of hits over its outcomes.</summary>
    public const string ChampionAccuracy = "championAccuracy";
    /// <summary>The challenger's share of hits over its outcomes.</summary>
    public const string ChallengerAccuracy = "challengerAccuracy";
    /// <summary>The horizon <c>k</c> both versions predict.</summary>
    public const string Horizon = "horizon";
    /// <summary>The settings the decision was made under.</summary>
    public const string Alpha = "alpha", MinPairs = "minPairs", MinImprovement = "minImprovement";
}

/// <summary>
/// Decides whether a challenger may replace the champion, from their paired live outcomes (the same asset and bar,
/// scored when the bar <c>k</c> steps later arrived). It passes only when every check passes:
/// <list type="number">
/// <item>at least <see cref="PromotionGateOptions.MinPairs"/> pairs;</item>
/// <item>the Diebold-Mariano test with the Harvey-Leybourne-Newbold correction, on the differences
/// <c>loss(champion) - loss(challenger)</c> (log loss for direction models, squared error for return models), with
/// the long-run variance over lags 0..k-1 because <c>k</c>-bar outcomes overlap, finds the challenger better:
/// one-sided p below <see cref="PromotionGateOptions.Alpha"/>;</item>
/// <item>the mean difference is at least <see cref="PromotionGateOptions.MinImprovement"/> of the champion's mean loss;</item>
/// <item>the exact McNemar test on the hits does not favour the champion: refused when the champion alone was right
/// more often (b &gt; c) with a two-sided p below alpha. The loss decides; the veto keeps a challenger whose
/// probabilities are better calibrated but whose calls are significantly worse from replacing the champion.</item>
/// </list>
/// Versions with different labels or horizons are refused before any test: their losses measure different things.
/// </summary>
public sealed class PromotionGate(IOptions<PromotionGateOptions> options, TimeProvider time)
{
    private readonly PromotionGateOptions _options = options.Value;

    /// <summary>
    /// The decision on moving <paramref name="alias"/> of model <paramref name="name"/> from version
    /// <paramref name="champion"/> to <paramref name="challenger"/>, from the model's cluster-wide
    /// <paramref name="totals"/>: refused, naming what is missing, while either version or their pair has no
    /// scored outcome (a version without a label in its lineage is never scored; a challenger is paired with the
    /// champion only while it is a shadow).
    /// </summary>
    public PromotionDecision Decide(string name, string alias, string champion, string challenger, ModelScores totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        var championRef = new ModelRef(name, champion);
        var challengerRef = new ModelRef(name, challenger);
        OutcomeTally? championTally = totals.Versions.FirstOrDefault(v => v.Model.Equals(championRef));
        OutcomeTally? challengerTally = totals.Versions.FirstOrDefault(v => v.Model.Equals(challengerRef));
        PairTally? pair = totals.Pairs.FirstOrDefault(p => p.Champion.Equals(championRef) && p.Challenger.Equals(challengerRef));
        string? missing = championTally is null ? $"the champion {champion} has no scored outcome (is there a label in its lineage?)"
            : challengerTally is null ? $"the challenger {challenger} has no scored outcome (is it a shadow of '{name}', with a label in its lineage?)"
            : pair is null ? $"no outcome was scored for both {champion} and {challenger} (the challenger must be a shadow while the champion serves)"
            : null;
        if (missing is not null)
        {
            return new PromotionDecision
            {
                Name = name, Alias = alias, Champion = champion, Challenger = challenger, Promoted = false, Reason = $"refused: {missing}",
                Pairs = 0, Statistics = new Dictionary<string, double> { [PromotionStatistics.Pairs] = 0, [PromotionStatistics.MinPairs] = _options.MinPairs },
                DecidedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
            };
        }
        return Decide(name, alias, championTally!, challengerTally!, pair!);
    }

    /// <summary>
    /// The decision on moving <paramref name="alias"/> of model <paramref name="name"/> from <paramref name="champion"/>'s
    /// version to <paramref name="challenger"/>'s, from their tallies and the tally of their pairs. <c>Promoted</c> says
    /// whether the gate passed; the caller moves the alias.
    /// </summary>
    public PromotionDecision Decide(string name, string alias, OutcomeTally champion, OutcomeTally challenger, PairTally pairs)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(alias);
        ArgumentNullException.ThrowIfNull(champion);
        ArgumentNullException.ThrowIfNull(challenger);
        ArgumentNullException.ThrowIfNull(pairs);
        if (!pairs.Champion.Equals(champion.Model) || !pairs.Challenger.Equals(challenger.Model))
        {
            throw new ArgumentException($"the pair tally compares {pairs.Challenger} with {pairs.Champion}, not {challenger.Model} with {champion.Model}", nameof(pairs));
        }
        if (champion.Model.Name != name || challenger.Model.Name != name)
        {
            throw new ArgumentException($"the tallies are of {champion.Model} and {challenger.Model}, not of model '{name}'", nameof(name));
        }
        var statistics = new Dictionary<string, double>
        {
            [PromotionStatistics.Pairs] = pairs.Pairs,
            [PromotionStatistics.Alpha] = _options.Alpha,
            [PromotionStatistics.MinPairs] = _options.MinPairs,
            [PromotionStatistics.MinImprovement] = _options.MinImprovement,
        };
        string championLabel = new LabelDefinition(champion.Kind, champion.Horizon).Name;
        string challengerLabel = new LabelDefinition(challenger.Kind, challenger.Horizon).Name;
        if (championLabel != challengerLabel)
        {
            return Decision(name, alias, champion, challenger, pairs, false, statistics,
                $"refused: the challenger predicts {challengerLabel} and the champion {championLabel}; only versions with the same label and horizon are compared");
        }
        if (pairs.Kind != champion.Kind || pairs.Horizon != champion.Horizon)
        {
            throw new ArgumentException($"the pair tally is for {new LabelDefinition(pairs.Kind, pairs.Horizon).Name}, the versions predict {championLabel}", nameof(pairs));
        }

        McNemarTest mcnemar = McNemarTest.Exact(pairs.ChampionOnlyHits, pairs.ChallengerOnlyHits);
        DieboldMarianoTest dm = DieboldMarianoTest.Compute(new LossDifferenceSums(pairs.Pairs, pairs.DifferenceSum, pairs.DifferenceSquareSum,
            pairs.LagProducts, pairs.LagLeading, pairs.LagTrailing, pairs.LagCounts));
        double championLoss = MeanLoss(champion), challengerLoss = MeanLoss(challenger);
        double improvement = championLoss > 0 ? dm.MeanDifference / championLoss : 0;
        statistics[PromotionStatistics.ChampionOnlyHits] = mcnemar.FirstOnly;
        statistics[PromotionStatistics.ChallengerOnlyHits] = mcnemar.SecondOnly;
        statistics[PromotionStatistics.McNemarP] = mcnemar.PValue;
        statistics[PromotionStatistics.MeanLossDifference] = dm.MeanDifference;
        statistics[PromotionStatistics.LongRunVariance] = dm.LongRunVarianceEstimate;
        statistics[PromotionStatistics.LagZeroOnly] = dm.Variance == LongRunVariance.LagZeroOnly ? 1 : 0;
        statistics[PromotionStatistics.DmStatistic] = dm.Statistic;
        statistics[PromotionStatistics.HlnStatistic] = dm.HlnStatistic;
        statistics[PromotionStatistics.DmP] = dm.PValueSecondBetter;
        statistics[PromotionStatistics.DmPTwoSided] = dm.PValueTwoSided;
        statistics[PromotionStatistics.Improvement] = improvement;
        statistics[PromotionStatistics.ChampionLoss] = championLoss;
        statistics[PromotionStatistics.ChallengerLoss] = challengerLoss;
        statistics[PromotionStatistics.ChampionAccuracy] = champion.Outcomes == 0 ? 0 : (double)champion.Hits / champion.Outcomes;
        statistics[PromotionStatistics.ChallengerAccuracy] = challenger.Outcomes == 0 ? 0 : (double)challenger.Hits / challenger.Outcomes;
        statistics[PromotionStatistics.Horizon] = pairs.Horizon;

        string loss = champion.Kind == LabelKind.Direction ? "log loss" : "squared error";
        double alpha = _options.Alpha;
        var failed = new List<string>();
        if (pairs.Pairs < _options.MinPairs)
        {
            failed.Add(Text($"only {pairs.Pairs} paired outcomes, {_options.MinPairs} needed"));
        }
        if (dm.Variance == LongRunVariance.None)
        {
            failed.Add($"no Diebold-Mariano test: {dm.Note}");
        }
        else if (!(dm.PValueSecondBetter < alpha))
        {
            failed.Add(Text($"the Diebold-Mariano test (HLN) does not show the challenger's {loss} lower: one-sided p = {dm.PValueSecondBetter:G4}, not below alpha {alpha} (mean difference {dm.MeanDifference:G4})"));
        }
        if (!(improvement >= _options.MinImprovement))
        {
            failed.Add(Text($"the improvement in mean {loss} is {improvement * 100:0.###}%, below the minimum {_options.MinImprovement * 100:0.###}%"));
        }
        if (mcnemar.FirstOnly > mcnemar.SecondOnly && mcnemar.PValue < alpha)
        {
            failed.Add(Text($"McNemar's exact test favours the champion's calls: it alone was right {mcnemar.FirstOnly} times, the challenger alone {mcnemar.SecondOnly}, p = {mcnemar.PValue:G4} below alpha {alpha}"));
        }
        string variance = dm.Variance == LongRunVariance.LagZeroOnly ? $" ({dm.Note})" : "";
        string reason = failed.Count > 0
            ? "refused: " + string.Join("; ", failed) + variance
            : Text($"promoted: on {pairs.Pairs} paired outcomes the challenger's mean {loss} is lower by {dm.MeanDifference:G4} ({improvement * 100:0.###}%), Diebold-Mariano (HLN) one-sided p = {dm.PValueSecondBetter:G4} below alpha {alpha}; McNemar p = {mcnemar.PValue:G4} (b = {mcnemar.FirstOnly}, c = {mcnemar.SecondOnly})") + variance;
        return Decision(name, alias, champion, challenger, pairs, failed.Count == 0, statistics, reason);
    }

    /// <summary>The significance level the gate holds a challenger to (<see cref="PromotionGateOptions.Alpha"/>).</summary>
    public double Alpha => _options.Alpha;

    /// <summary>The fewest paired outcomes the gate decides on (<see cref="PromotionGateOptions.MinPairs"/>).</summary>
    public long MinPairs => _options.MinPairs;

    /// <summary>
    /// What the gate would decide now, not recorded, for every challenger of every alias of <paramref name="deployment"/>
    /// (aliases in ordinal order): each shadow and the alias's A/B split arm against the version the alias names, from
    /// <paramref name="totals"/>, the model's cluster-wide score totals the promotion reads. Each is the decision
    /// <see cref="Decide(string, string, string, string, ModelScores)"/> gives a promotion on the same totals; a split arm
    /// is never paired with the champion (only shadows are), so the gate refuses it naming that.
    /// </summary>
    public IReadOnlyList<PromotionDecision> DecideChallengers(ModelDeployment deployment, ModelScores totals)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        ArgumentNullException.ThrowIfNull(totals);
        var decisions = new List<PromotionDecision>();
        foreach (var (alias, target) in deployment.Aliases.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            IEnumerable<string> challengers = target.Split is { } split ? deployment.Shadows.Append(split.Version) : deployment.Shadows;
            foreach (string challenger in challengers.Where(v => v != target.Version).Distinct(StringComparer.Ordinal))
            {
                decisions.Add(Decide(deployment.Name, alias, target.Version, challenger, totals));
            }
        }
        return decisions;
    }

    /// <summary>
    /// A decision in a few words, for a person scanning many: <c>would promote</c> where the gate passed,
    /// <c>too few pairs: N of M</c> where the pairs fall short of the minimum it was decided under (whatever else
    /// failed), else <c>not better</c>; the decision's <c>Reason</c> says which checks failed.
    /// </summary>
    public static string Verdict(PromotionDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        if (decision.Promoted)
        {
            return "would promote";
        }
        double minPairs = decision.Statistics.GetValueOrDefault(PromotionStatistics.MinPairs);
        return decision.Pairs < minPairs ? Text($"too few pairs: {decision.Pairs} of {minPairs}") : "not better";
    }

    private PromotionDecision Decision(string name, string alias, OutcomeTally champion, OutcomeTally challenger, PairTally pairs, bool passed,
        Dictionary<string, double> statistics, string reason) => new()
        {
            Name = name, Alias = alias, Champion = champion.Model.Version, Challenger = challenger.Model.Version, Promoted = passed, Reason = reason,
            Pairs = pairs.Pairs, Statistics = statistics, DecidedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };

    private static double MeanLoss(OutcomeTally tally) =>
        tally.Outcomes == 0 ? 0 : (tally.Kind == LabelKind.Direction ? tally.LogLossSum : tally.SquaredErrorSum) / tally.Outcomes;

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Registers the promotion gate in a silo.</summary>
public static class PromotionGateHosting
{
    /// <summary>
    /// The gate, the <see cref="PromotionTrial"/> that runs it, and its options (checked at start by <see cref="PromotionGateOptionsValidator"/>); <paramref name="configureOptions"/>
    /// binds or sets them (a host binds section <see cref="PromotionGateOptions.Section"/>). Registering again adds nothing twice.
    /// </summary>
    public static IServiceCollection AddMarketIntelPromotionGate(this IServiceCollection services, Action<OptionsBuilder<PromotionGateOptions>>? configureOptions = null)
    {
        services.AddCheckedOptions(new PromotionGateOptionsValidator(), configureOptions);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PromotionGate>();
        services.TryAddSingleton<PromotionTrial>();
        return services;
    }
}
