using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;

namespace MarketIntel.Tests;

/// <summary>What every <see cref="IScoreStore"/> promises the asset grains and the scores surface, claimed once and run against each store.</summary>
public abstract class ScoreStoreContract
{
    /// <summary>The store under test: empty at the start of each test.</summary>
    protected abstract IScoreStore Store { get; }

    private static OutcomeTally Tally(string version, long outcomes, long hits, double logLoss) => new()
    {
        Model = new ModelRef("dir", version), Kind = LabelKind.Direction, Horizon = 3,
        Outcomes = outcomes, Hits = hits, LogLossSum = logLoss, BrierSum = logLoss / 4,
    };

    private static PairTally Pair(long pairs, double seed)
    {
        PairTally pair = PairTally.Empty(new ModelRef("dir", "v1"), new ModelRef("dir", "v2"), LabelKind.Direction, 3);
        pair.Pairs = pairs;
        pair.BothHit = pairs / 2;
        pair.ChampionOnlyHits = 3;
        pair.ChallengerOnlyHits = 5;
        pair.DifferenceSum = seed;
        pair.DifferenceSquareSum = seed * seed;
        pair.LagProducts[0] = seed / 2;
        pair.LagProducts[1] = -seed / 3;
        pair.LagLeading[1] = seed;
        pair.LagTrailing[0] = -seed;
        pair.LagCounts[0] = pairs - 1;
        pair.LagCounts[1] = pairs - 2;
        return pair;
    }

    [Fact]
    public async Task An_assets_tallies_read_back_as_written_and_a_later_write_replaces_them()
    {
        await Store.Save("AAA", new ModelScores([Tally("v1", 10, 6, 6.5), Tally("v2", 10, 4, 7.25)], [Pair(10, 0.75)]));
        await Store.Save("AAA", new ModelScores([Tally("v1", 12, 7, 8.5)], [Pair(12, 1.5)]));  // absolute, not added

        ModelScores stored = await Store.Load("AAA");
        OutcomeTally v1 = Assert.Single(stored.Versions, t => t.Model.Version == "v1");
        Assert.Equal((12L, 7L, 8.5, 8.5 / 4, LabelKind.Direction, 3), (v1.Outcomes, v1.Hits, v1.LogLossSum, v1.BrierSum, v1.Kind, v1.Horizon));
        Assert.Equal(10, Assert.Single(stored.Versions, t => t.Model.Version == "v2").Outcomes);  // a write names what it replaces
        PairTally pair = Assert.Single(stored.Pairs);
        Assert.Equal((12L, 6L, 3L, 5L, 1.5, 2.25), (pair.Pairs, pair.BothHit, pair.ChampionOnlyHits, pair.ChallengerOnlyHits, pair.DifferenceSum, pair.DifferenceSquareSum));
        Assert.Equal([0.75, -0.5], pair.LagProducts);
        Assert.Equal([0, 1.5], pair.LagLeading);
        Assert.Equal([-1.5, 0], pair.LagTrailing);
        Assert.Equal([11L, 10L], pair.LagCounts);
        Assert.Empty((await Store.Load("BBB")).Versions);
    }

    [Fact]
    public async Task A_model_names_totals_are_the_sums_over_its_assets_and_nothing_of_other_names()
    {
        await Store.Save("AAA", new ModelScores([Tally("v1", 10, 6, 6.5)], [Pair(10, 0.75)]));
        await Store.Save("BBB", new ModelScores([Tally("v1", 5, 1, 4)], [Pair(5, -0.25)]));
        var other = new OutcomeTally { Model = new ModelRef("ret", "r1"), Kind = LabelKind.LogReturn, Horizon = 1, Outcomes = 99, SquaredErrorSum = 1 };
        await Store.Save("AAA", new ModelScores([other], []));

        ModelScores totals = await Store.Totals("dir");
        OutcomeTally v1 = Assert.Single(totals.Versions);
        Assert.Equal((15L, 7L, 10.5), (v1.Outcomes, v1.Hits, v1.LogLossSum));
        PairTally pair = Assert.Single(totals.Pairs);
        Assert.Equal((15L, 0.5), (pair.Pairs, pair.DifferenceSum));
        Assert.Equal([0.375 - 0.125, -0.25 + 0.25 / 3], pair.LagProducts, (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal([13L, 11L], pair.LagCounts);
        Assert.Equal(99, Assert.Single((await Store.Totals("ret")).Versions).Outcomes);
    }

    [Fact]
    public async Task What_a_caller_goes_on_adding_to_after_a_write_is_not_what_is_stored()
    {
        OutcomeTally tally = Tally("v1", 10, 6, 6.5);
        await Store.Save("AAA", new ModelScores([tally], []));
        tally.Outcomes = 1000;
        Assert.Equal(10, Assert.Single((await Store.Load("AAA")).Versions).Outcomes);
    }
}
