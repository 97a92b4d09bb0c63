using MarketIntel.Abstractions;

namespace MarketIntel.Grains.Tests;

/// <summary>Grid:Scoring turns scoring and shadows off, and its settings are checked at start, each named.</summary>
public sealed class ScoringOptionsTests(ScoringOptionsTests.ScoringOffCluster fixture) : IClassFixture<ScoringOptionsTests.ScoringOffCluster>
{
    /// <summary>The labelled versions, with Grid:Scoring:Enabled false.</summary>
    public sealed class ScoringOffCluster : LabelledCluster<ScoringOffCluster>
    {
        protected override void Scoring(ScoringOptions options) => options.Enabled = false;
    }

    [Fact]
    public async Task With_scoring_off_nothing_is_scored_and_predictions_are_served_as_before()
    {
        var grains = fixture.Grains;
        await grains.GetGrain<IModelRegistryGrain>(0).SetShadow(new ModelRef("hand", "v2"), true, "test");
        var asset = grains.GetGrain<IAssetGrain>("off-" + Guid.NewGuid().ToString("N"));
        await asset.AssignModel(new ModelRef("hand", "v1"));
        await asset.AddBars(OutcomeScoringTests.BarsOf(0, 30));
        var scores = await asset.GetScores();
        Assert.Empty(scores.Versions);
        Assert.Empty(scores.Pairs);
        Assert.Equal(new ModelRef("hand", "v1"), (await asset.Predict()).Model);
    }

    [Fact]
    public void Scoring_settings_out_of_range_are_refused_by_name()
    {
        var options = new GridOptions();
        options.Scoring.FlushInterval = TimeSpan.Zero;
        options.Scoring.MaxHorizon = 0;
        var result = new GridOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Equal(
            ["Grid:Scoring:FlushInterval 00:00:00 must be between 00:00:00.010 and 01:00:00", "Grid:Scoring:MaxHorizon 0 must be between 1 and 100000"],
            result.Failures);
        Assert.True(new GridOptionsValidator().Validate(null, new GridOptions()).Succeeded);
    }
}
