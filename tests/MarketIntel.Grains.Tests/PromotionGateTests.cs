using System.Globalization;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features;
using MarketIntel.Grains.Models;
using MarketIntel.Tests;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Serialization;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// The promotion gate on synthetic outcomes whose answer is known, and its statistics against SciPy
/// (tests/fixtures/statistics/scipy_reference.py computes the Diebold-Mariano test from the raw loss differences of
/// every asset; the gate from the running sums a <see cref="PairTally"/> keeps).
/// </summary>
public sealed class PromotionGateTests
{
    private static readonly ModelRef Champion = new("direction", "v1");
    private static readonly ModelRef Challenger = new("direction", "v2");

    [Theory]
    [InlineData(1, 0.0, 1)]
    [InlineData(3, 0.01, 2)]
    [InlineData(5, 0.0, 3)]
    [InlineData(12, -0.01, 5)]
    [InlineData(24, 0.03, 6)]
    public void The_gates_statistics_equal_scipys_computed_from_each_assets_loss_differences(int horizon, double edge, int seed)
    {
        // Several assets of different lengths, with labels over overlapping horizons and persistent predictions:
        // the loss differences are autocorrelated as live k-bar outcomes are.
        var random = new Random(seed);
        var recorder = new PairRecorder(LabelKind.Direction, horizon);
        foreach (int length in new[] { 900, 40, 1500, 7, 600 })
        {
            recorder.Asset(DirectionOutcomes(random, length, horizon, edge));
        }
        double[] scipy = AssertEqualsScipy(recorder);
        if (horizon > 1)
        {
            // Overlap counted: the long-run variance is not the plain variance.
            Assert.True(scipy[3] > scipy[2] * 1.2, $"long-run variance {scipy[3]} vs lag-0 {scipy[2]}");
        }
    }

    [Fact]
    public void Where_the_lag_sum_is_not_positive_the_lag_zero_variance_is_used_as_scipys_reference_does()
    {
        // The champion alternates between right and wrong (p = 0.7 towards or away from the outcome) against a
        // challenger at 0.5 and a little noise: the differences alternate in sign, gamma_0 + 2 gamma_1 < 0 at k = 2.
        var random = new Random(7);
        var outcomes = new List<Outcome>();
        for (int t = 0; t < 700; t++)
        {
            bool up = random.NextDouble() < 0.5;
            double towards = t % 2 == 0 ? 0.2 : -0.2;
            outcomes.Add(new Outcome(0.5 + (up ? towards : -towards), 0.5 + 0.01 * Gaussian(random), up ? 1 : 0));
        }
        var recorder = new PairRecorder(LabelKind.Direction, 2);
        recorder.Asset(outcomes);
        double[] scipy = AssertEqualsScipy(recorder);
        Assert.Equal(1.0, scipy[4]);
        PromotionDecision decision = Gate().Decide("direction", "champion", recorder.ChampionTally, recorder.ChallengerTally, recorder.Pairs);
        Assert.Contains("the lag-0 variance", decision.Reason, StringComparison.Ordinal);
    }

    /// <summary>Checks the gate's statistics against the reference script's; returns the script's numbers.</summary>
    private static double[] AssertEqualsScipy(PairRecorder recorder)
    {
        PromotionDecision decision = Gate().Decide("direction", "champion", recorder.ChampionTally, recorder.ChallengerTally, recorder.Pairs);
        string input = JsonSerializer.Serialize(new { h = recorder.Pairs.Horizon, series = recorder.Differences, b = recorder.Pairs.ChampionOnlyHits, c = recorder.Pairs.ChallengerOnlyHits });
        double[] scipy = PythonReference.Run(RepoPaths.Fixture("statistics", "scipy_reference.py"), ["dm"], input)[0]
            .Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        IReadOnlyDictionary<string, double> s = decision.Statistics;
        Assert.Equal(scipy[0], s[PromotionStatistics.Pairs]);
        AssertClose(scipy[1], s[PromotionStatistics.MeanLossDifference], "mean difference");
        AssertClose(scipy[3], s[PromotionStatistics.LongRunVariance], "long-run variance");
        Assert.Equal(scipy[4], s[PromotionStatistics.LagZeroOnly]);
        AssertClose(scipy[5], s[PromotionStatistics.DmStatistic], "DM statistic");
        AssertClose(scipy[6], s[PromotionStatistics.HlnStatistic], "HLN statistic");
        AssertClose(scipy[7], s[PromotionStatistics.DmP], "one-sided p");
        AssertClose(scipy[8], s[PromotionStatistics.DmPTwoSided], "two-sided p");
        AssertClose(scipy[9], s[PromotionStatistics.McNemarP], "McNemar p");
        return scipy;
    }

    [Fact]
    public void A_challenger_no_better_than_the_champion_is_refused_naming_the_test()
    {
        var random = new Random(11);
        var recorder = new PairRecorder(LabelKind.Direction, 3);
        for (int asset = 0; asset < 4; asset++)
        {
            // Same signal, the challenger's probabilities a little noisier: its log loss is, if anything, higher.
            recorder.Asset(DirectionOutcomes(random, 800, 3, -0.005));
        }
        PromotionDecision decision = Gate().Decide("direction", "champion", recorder.ChampionTally, recorder.ChallengerTally, recorder.Pairs);
        Assert.False(decision.Promoted);
        Assert.StartsWith("refused: ", decision.Reason, StringComparison.Ordinal);
        Assert.Contains("the Diebold-Mariano test (HLN) does not show the challenger's log loss lower", decision.Reason, StringComparison.Ordinal);
        Assert.True(decision.Statistics[PromotionStatistics.DmP] >= 0.05, decision.Reason);
        Assert.Equal(3200, decision.Pairs);
        Assert.Equal(("direction", "champion", "v1", "v2"), (decision.Name, decision.Alias, decision.Champion, decision.Challenger));
    }

    [Fact]
    public void A_clearly_better_challenger_is_promoted_with_its_statistics()
    {
        var random = new Random(12);
        var recorder = new PairRecorder(LabelKind.Direction, 3);
        for (int asset = 0; asset < 4; asset++)
        {
            recorder.Asset(DirectionOutcomes(random, 800, 3, 0.08));
        }
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        PromotionDecision decision = Gate(minImprovement: 0.01).Decide("direction", "champion", recorder.ChampionTally, recorder.ChallengerTally, recorder.Pairs);
        Assert.True(decision.Promoted, decision.Reason);
        Assert.StartsWith("promoted: on 3200 paired outcomes the challenger's mean log loss is lower", decision.Reason, StringComparison.Ordinal);
        Assert.True(decision.Statistics[PromotionStatistics.DmP] < 1e-6, decision.Reason);
        Assert.True(decision.Statistics[PromotionStatistics.Improvement] >= 0.01);
        Assert.True(decision.Statistics[PromotionStatistics.ChallengerLoss] < decision.Statistics[PromotionStatistics.ChampionLoss]);
        Assert.Equal(recorder.ChampionTally.LogLossSum / recorder.ChampionTally.Outcomes, decision.Statistics[PromotionStatistics.ChampionLoss], 12);
        Assert.InRange(decision.DecidedAt, before, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.All(decision.Statistics.Values, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void A_decision_crosses_between_grains_with_every_statistic()
    {
        var recorder = new PairRecorder(LabelKind.Direction, 2);
        recorder.Asset(DirectionOutcomes(new Random(17), 600, 2, 0.05));
        PromotionDecision decision = Gate().Decide("direction", "champion", recorder.ChampionTally, recorder.ChallengerTally, recorder.Pairs);
        Serializer serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();
        PromotionDecision copy = serializer.Deserialize<PromotionDecision>(serializer.SerializeToArray(decision))!;
        Assert.Equal((decision.Name, decision.Alias, decision.Champion, decision.Challenger, decision.Promoted, decision.Reason, decision.Pairs, decision.DecidedAt),
            (copy.Name, copy.Alias, copy.Champion, copy.Challenger, copy.Promoted, copy.Reason, copy.Pairs, copy.DecidedAt));
        Assert.Equal(decision.Statistics.OrderBy(kv => kv.Key), copy.Statistics.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void Read_live_the_gate_judges_each_shadow_and_split_arm_of_each_alias_as_a_promotion_would_and_names_its_verdict()
    {
        var random = new Random(19);
        var better = new PairRecorder(LabelKind.Direction, 3);
        var worse = new PairRecorder(LabelKind.Direction, 3);
        for (int asset = 0; asset < 4; asset++)
        {
            better.Asset(DirectionOutcomes(random, 800, 3, 0.08));
            worse.Asset(DirectionOutcomes(random, 800, 3, -0.005));
        }
        // v1 behind champion with v3 split off, v2 behind stable; v2 and v4 shadows. v3 and v4 were never paired with v1.
        var deployment = new ModelDeployment("direction", new Dictionary<string, AliasTarget>(StringComparer.Ordinal)
        {
            ["stable"] = new("v2", null, false),
            ["champion"] = new("v1", new ArmSplit("v3", 0.2), false),
        }, ["v2", "v4"], 7);
        PromotionGate gate = Gate();
        foreach (var (recorder, verdict) in new[] { (better, "would promote"), (worse, "not better") })
        {
            var totals = new ModelScores([recorder.ChampionTally, recorder.ChallengerTally], [recorder.Pairs]);
            IReadOnlyList<PromotionDecision> live = gate.DecideChallengers(deployment, totals);
            // Aliases in order; each shadow and the split arm against the alias's version, never a version against itself.
            Assert.Equal([("champion", "v1", "v2"), ("champion", "v1", "v4"), ("champion", "v1", "v3"), ("stable", "v2", "v4")],
                live.Select(d => (d.Alias, d.Champion, d.Challenger)));
            foreach (PromotionDecision d in live)
            {
                PromotionDecision promotion = gate.Decide("direction", d.Alias, d.Champion, d.Challenger, totals);
                Assert.Equal((promotion.Promoted, promotion.Reason, promotion.Pairs), (d.Promoted, d.Reason, d.Pairs));
                Assert.Equal(promotion.Statistics.OrderBy(kv => kv.Key), d.Statistics.OrderBy(kv => kv.Key));
            }
            Assert.Equal([verdict, "too few pairs: 0 of 500", "too few pairs: 0 of 500", "too few pairs: 0 of 500"], live.Select(PromotionGate.Verdict));
            Assert.Contains("the challenger v3 has no scored outcome", live[2].Reason, StringComparison.Ordinal);
        }

        // Short of the minimum, the verdict is the count whatever else fails.
        var few = new ModelScores([better.ChampionTally, better.ChallengerTally], [better.Pairs]);
        Assert.Equal("too few pairs: 3200 of 5000", PromotionGate.Verdict(Gate(minPairs: 5000).DecideChallengers(deployment, few)[0]));
        Assert.Empty(gate.DecideChallengers(ModelDeployment.Empty("direction") with { Shadows = ["v2"] }, few));
    }

    [Fact]
    public void Too_few_pairs_and_too_small_an_improvement_are_each_named()
    {
        var random = new Random(13);
        var recorder = new PairRecorder(LabelKind.Direction, 1);
        recorder.Asset(DirectionOutcomes(random, 120, 1, 0.08));
        PromotionDecision decision = Gate(minPairs: 500, minImprovement: 0.5).Decide("direction", "champion", recorder.ChampionTally, recorder.ChallengerTally, recorder.Pairs);
        Assert.False(decision.Promoted);
        Assert.Contains("only 120 paired outcomes, 500 needed", decision.Reason, StringComparison.Ordinal);
        Assert.Contains("below the minimum 50%", decision.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("Diebold-Mariano", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_challenger_with_lower_log_loss_but_significantly_fewer_hits_is_vetoed_by_McNemar()
    {
        // The champion calls 70% right but is sure of its wrong calls too (p = 0.999 / 0.001): a huge log loss.
        // The challenger calls 60% right with modest probabilities: a much lower log loss, but fewer hits.
        var random = new Random(14);
        var outcomes = new List<Outcome>();
        for (int t = 0; t < 2000; t++)
        {
            bool up = random.NextDouble() < 0.5;
            bool championRight = random.NextDouble() < 0.7, challengerRight = random.NextDouble() < 0.6;
            double championP = championRight == up ? 0.999 : 0.001;
            double challengerP = challengerRight == up ? 0.6 : 0.4;
            outcomes.Add(new Outcome(championP, challengerP, up ? 1 : 0));
        }
        var recorder = new PairRecorder(LabelKind.Direction, 1);
        recorder.Asset(outcomes);
        PromotionDecision decision = Gate().Decide("direction", "champion", recorder.ChampionTally, recorder.ChallengerTally, recorder.Pairs);
        Assert.False(decision.Promoted);
        Assert.True(decision.Statistics[PromotionStatistics.DmP] < 1e-6, "the loss test alone would pass");
        Assert.Contains("McNemar's exact test favours the champion's calls", decision.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("Diebold-Mariano", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Return_models_are_judged_on_squared_error()
    {
        var random = new Random(15);
        var recorder = new PairRecorder(LabelKind.LogReturn, 2);
        var outcomes = new List<Outcome>();
        for (int t = 0; t < 1500; t++)
        {
            double actual = 0.01 * Gaussian(random);
            // The challenger's error has half the spread of the champion's.
            outcomes.Add(new Outcome(actual + 0.01 * Gaussian(random), actual + 0.005 * Gaussian(random), actual));
        }
        recorder.Asset(outcomes);
        PromotionDecision decision = Gate().Decide("direction", "champion", recorder.ChampionTally, recorder.ChallengerTally, recorder.Pairs);
        Assert.True(decision.Promoted, decision.Reason);
        Assert.Contains("mean squared error is lower", decision.Reason, StringComparison.Ordinal);
        Assert.Equal(recorder.ChampionTally.SquaredErrorSum / 1500, decision.Statistics[PromotionStatistics.ChampionLoss], 15);
        Assert.InRange(decision.Statistics[PromotionStatistics.Improvement], 0.6, 0.9);   // 1 - 1/4 in expectation
    }

    [Fact]
    public void Versions_with_different_labels_or_horizons_are_refused_before_any_test()
    {
        OutcomeTally champion = new() { Model = Champion, Kind = LabelKind.Direction, Horizon = 5, Outcomes = 1000 };
        foreach (OutcomeTally challenger in new OutcomeTally[]
        {
            new() { Model = Challenger, Kind = LabelKind.Direction, Horizon = 3, Outcomes = 1000 },
            new() { Model = Challenger, Kind = LabelKind.LogReturn, Horizon = 5, Outcomes = 1000 },
        })
        {
            PromotionDecision decision = Gate().Decide("direction", "champion", champion, challenger, PairTally.Empty(Champion, Challenger, LabelKind.Direction, 5));
            Assert.False(decision.Promoted);
            Assert.Equal($"refused: the challenger predicts {new LabelDefinition(challenger.Kind, challenger.Horizon).Name} and the champion up_5; only versions with the same label and horizon are compared", decision.Reason);
        }
    }

    [Fact]
    public void Tallies_of_other_versions_are_a_clear_error()
    {
        OutcomeTally champion = new() { Model = Champion, Kind = LabelKind.Direction, Horizon = 1 };
        OutcomeTally challenger = new() { Model = Challenger, Kind = LabelKind.Direction, Horizon = 1 };
        var e = Assert.Throws<ArgumentException>(() => Gate().Decide("direction", "champion", champion, challenger,
            PairTally.Empty(Champion, new ModelRef("direction", "v3"), LabelKind.Direction, 1)));
        Assert.Contains("compares direction@v3 with direction@v1, not direction@v2 with direction@v1", e.Message, StringComparison.Ordinal);
        PromotionDecision empty = Gate().Decide("direction", "champion", champion, challenger, PairTally.Empty(Champion, Challenger, LabelKind.Direction, 1));
        Assert.False(empty.Promoted);
        Assert.Contains("no Diebold-Mariano test: 0 loss differences are too few", empty.Reason, StringComparison.Ordinal);
        Assert.All(empty.Statistics.Values, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void Options_are_bound_from_Grid_Promotion_and_bad_ones_are_named()
    {
        PromotionGate Bound(Dictionary<string, string?> settings)
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
            var services = new ServiceCollection();
            services.AddMarketIntelPromotionGate(o => o.Bind(configuration.GetSection(PromotionGateOptions.Section)));
            return services.BuildServiceProvider().GetRequiredService<PromotionGate>();
        }
        var recorder = new PairRecorder(LabelKind.Direction, 1);
        recorder.Asset(DirectionOutcomes(new Random(16), 50, 1, 0.08));
        PromotionDecision decision = Bound(new() { ["Grid:Promotion:MinPairs"] = "40", ["Grid:Promotion:Alpha"] = "0.01" })
            .Decide("direction", "champion", recorder.ChampionTally, recorder.ChallengerTally, recorder.Pairs);
        Assert.Equal((40.0, 0.01, 0.0), (decision.Statistics[PromotionStatistics.MinPairs], decision.Statistics[PromotionStatistics.Alpha], decision.Statistics[PromotionStatistics.MinImprovement]));

        var e = Assert.Throws<OptionsValidationException>(() => Bound(new()
        {
            ["Grid:Promotion:MinPairs"] = "1", ["Grid:Promotion:Alpha"] = "0.7", ["Grid:Promotion:MinImprovement"] = "-0.1",
        }));
        Assert.Contains("Grid:Promotion:MinPairs 1 must be at least 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("Grid:Promotion:Alpha 0.7 must be above 0 and at most 0.5", e.Message, StringComparison.Ordinal);
        Assert.Contains("Grid:Promotion:MinImprovement -0.1 must be at least 0", e.Message, StringComparison.Ordinal);
    }

    private static PromotionGate Gate(long minPairs = 500, double alpha = 0.05, double minImprovement = 0) =>
        new(Options.Create(new PromotionGateOptions { MinPairs = minPairs, Alpha = alpha, MinImprovement = minImprovement }), TimeProvider.System);

    /// <summary>
    /// Direction outcomes over overlapping horizons: the label of bar t is whether the next <paramref name="horizon"/>
    /// returns of a random walk add up above 0, so neighbouring labels share most of their moves; both versions'
    /// probabilities drift slowly (a moving average of shocks, as features do) and the challenger's is moved
    /// <paramref name="edge"/> towards the outcome.
    /// </summary>
    private static List<Outcome> DirectionOutcomes(Random random, int length, int horizon, double edge)
    {
        var returns = new double[length + horizon + 1];
        for (int i = 0; i < returns.Length; i++)
        {
            returns[i] = Gaussian(random);
        }
        double championDrift = 0, challengerDrift = 0;
        var outcomes = new List<Outcome>(length);
        for (int t = 0; t < length; t++)
        {
            double move = 0;
            for (int j = 1; j <= horizon; j++)
            {
                move += returns[t + j];
            }
            double sign = move > 0 ? 1 : -1;
            championDrift = 0.9 * championDrift + 0.1 * Gaussian(random);
            challengerDrift = 0.9 * challengerDrift + 0.1 * Gaussian(random);
            double signal = 0.03 * sign + 0.03 * Gaussian(random);
            double champion = Math.Clamp(0.5 + signal + 0.3 * championDrift, 0.02, 0.98);
            double challenger = Math.Clamp(0.5 + signal + edge * sign + 0.3 * challengerDrift, 0.02, 0.98);
            outcomes.Add(new Outcome(champion, challenger, sign > 0 ? 1 : 0));
        }
        return outcomes;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static void AssertClose(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Abs(expected) + 1e-300, $"{what}: SciPy {expected:R}, the gate {actual:R}");

    /// <summary>Both versions' predictions of one (asset, bar) and what happened: the label (0/1) or the log return.</summary>
    private sealed record Outcome(double ChampionPrediction, double ChallengerPrediction, double Actual);

    /// <summary>
    /// Tallies outcomes as the scoring does, by the definitions in OutcomeScores.cs: per version the hits and losses,
    /// per pair McNemar's counts and, within each asset, the loss differences' sums and lag sums.
    /// </summary>
    private sealed class PairRecorder(LabelKind kind, int horizon)
    {
        public OutcomeTally ChampionTally { get; } = new() { Model = Champion, Kind = kind, Horizon = horizon };
        public OutcomeTally ChallengerTally { get; } = new() { Model = Challenger, Kind = kind, Horizon = horizon };
        public PairTally Pairs { get; } = PairTally.Empty(Champion, Challenger, kind, horizon);
        public List<double[]> Differences { get; } = [];

        public void Asset(IReadOnlyList<Outcome> outcomes)
        {
            var d = new double[outcomes.Count];
            for (int t = 0; t < outcomes.Count; t++)
            {
                Outcome o = outcomes[t];
                (double championLoss, bool championHit) = Score(ChampionTally, o.ChampionPrediction, o.Actual);
                (double challengerLoss, bool challengerHit) = Score(ChallengerTally, o.ChallengerPrediction, o.Actual);
                d[t] = championLoss - challengerLoss;
                Pairs.Pairs++;
                Pairs.BothHit += championHit && challengerHit ? 1 : 0;
                Pairs.ChampionOnlyHits += championHit && !challengerHit ? 1 : 0;
                Pairs.ChallengerOnlyHits += challengerHit && !championHit ? 1 : 0;
                Pairs.DifferenceSum += d[t];
                Pairs.DifferenceSquareSum += d[t] * d[t];
                for (int lag = 1; lag < horizon && lag <= t; lag++)
                {
                    Pairs.LagProducts[lag - 1] += d[t] * d[t - lag];
                    Pairs.LagLeading[lag - 1] += d[t];
                    Pairs.LagTrailing[lag - 1] += d[t - lag];
                    Pairs.LagCounts[lag - 1]++;
                }
            }
            Differences.Add(d);
        }

        private static (double Loss, bool Hit) Score(OutcomeTally tally, double prediction, double actual)
        {
            tally.Outcomes++;
            if (tally.Kind == LabelKind.Direction)
            {
                bool hit = prediction > 0.5 ? actual == 1 : actual == 0;
                double p = Math.Clamp(prediction, 1e-15, 1 - 1e-15);
                double logLoss = -(actual * Math.Log(p) + (1 - actual) * Math.Log(1 - p));
                tally.Hits += hit ? 1 : 0;
                tally.LogLossSum += logLoss;
                tally.BrierSum += (prediction - actual) * (prediction - actual);
                return (logLoss, hit);
            }
            bool signRight = prediction > 0 == actual > 0;
            double error = (prediction - actual) * (prediction - actual);
            tally.Hits += signRight ? 1 : 0;
            tally.SquaredErrorSum += error;
            return (error, signRight);
        }
    }
}
