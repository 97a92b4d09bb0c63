using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Inference;
using MarketIntel.Tests;

namespace MarketIntel.Grains.Tests;

/// <summary>The asset grain in a real (in-process) Orleans cluster.</summary>
[Collection(ClusterGroup.Name)]
public sealed class AssetGrainTests(ClusterFixture fixture)
{
    private static readonly BarSeries Msft = BarCsv.Read(RepoPaths.Data("msft-daily.csv"));

    private static BarData[] Bars(BarSeries series, int from, int count) => SeriesBars.Of(series, from, count);

    private IAssetGrain Asset(string name) => fixture.Grains.GetGrain<IAssetGrain>(name + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Streamed_bars_give_exactly_the_batch_features_of_the_same_bars()
    {
        var asset = Asset("msft");
        var bars = Bars(Msft, 0, Msft.Count);
        var result = await asset.AddBars(bars[..100]);
        result = await asset.AddBars(bars[100..]);
        Assert.Equal(Msft.Count - 100, result.Accepted);

        var snapshot = await asset.GetFeatures();
        double[][] batch = FeatureSet.Parse(ClusterFixture.Spec).Compute(Msft);
        Assert.Equal(ClusterFixture.Spec.Split(','), snapshot.Names);
        Assert.Equal(bars[^1].Timestamp, snapshot.AsOf);
        for (int f = 0; f < batch.Length; f++)
        {
            Assert.Equal(batch[f][^1], snapshot.Values[f]);
        }
    }

    [Fact]
    public async Task Replaying_a_stream_is_acknowledged_and_changes_nothing()
    {
        var asset = Asset("replay");
        var bars = Bars(Msft, 0, 80);
        Assert.Equal(80, (await asset.AddBars(bars)).Accepted);
        var before = await asset.GetFeatures();

        var again = await asset.AddBars(bars);
        Assert.Equal(new[] { 0, 80, 0 }, new[] { again.Accepted, again.Ignored, again.Rejected });
        var after = await asset.GetFeatures();
        Assert.Equal(before.Values, after.Values);
        Assert.Equal(before.AsOf, after.AsOf);
    }

    [Theory]
    [InlineData(double.NaN, 2, 1, 1.5, 10, "open NaN is not a finite number")]
    [InlineData(1, 2, 1, -1.5, 10, "close -1.5 must be positive")]
    [InlineData(1, 2, 3, 1.5, 10, "high 2 is below low 3")]
    [InlineData(1, 2, 1, 2.5, 10, "close 2.5 is outside the bar's range [low 1, high 2]")]
    [InlineData(1, 2, 1, 1.5, -10, "volume -10 must not be negative")]
    public async Task A_bad_bar_is_rejected_with_its_reason_and_leaves_the_state_untouched(double open, double high, double low, double close, double volume, string reason)
    {
        var asset = Asset("bad");
        var good = Bars(Msft, 0, 30);
        await asset.AddBars(good);
        var before = await asset.GetFeatures();

        var bad = new BarData(good[^1].Timestamp + 86_400_000, open, high, low, close, volume);
        var result = await asset.AddBars([bad]);
        Assert.Equal(1, result.Rejected);
        Assert.Equal($"bar at {bad.Timestamp}: {reason}", Assert.Single(result.Reasons));
        var after = await asset.GetFeatures();
        Assert.Equal(before.Values, after.Values);
        Assert.Equal(before.AsOf, after.AsOf);

        // The next good bar is accepted as if the bad one had never come.
        Assert.Equal(1, (await asset.AddBars(Bars(Msft, 30, 1))).Accepted);
    }

    [Fact]
    public async Task A_new_bar_older_than_the_last_one_is_rejected_as_out_of_order()
    {
        var asset = Asset("order");
        var bars = Bars(Msft, 0, 10);
        await asset.AddBars([bars[0], bars[2]]);
        var result = await asset.AddBars([bars[1]]);
        Assert.Equal(1, result.Rejected);
        Assert.Contains("is before the last accepted bar", result.Reasons[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predictions_use_the_computed_features_when_the_model_names_them()
    {
        // A model over features the grain computes: its names follow the feature grammar.
        byte[] bytes = HandModels.Stumps(["sma_5", "rsi_14", "lag_1_sma_5"], [25f, 50f, 0f], [(-0.3f, 0.4f), (-0.2f, 0.25f), (0f, 0f)], out Model reference);
        var registry = fixture.Grains.GetGrain<IModelRegistryGrain>(0);
        var info = await registry.Register("features-" + Guid.NewGuid().ToString("N"), "1", bytes);

        var asset = Asset("predict");
        await asset.AssignModel(info.Model);
        await asset.AddBars(Bars(Msft, 0, 60));
        var prediction = await asset.Predict();

        // The same inputs computed in batch give the same prediction.
        double[][] batch = FeatureSet.Parse("sma_5,rsi_14,lag_1_sma_5").Compute(Msft);
        float[] inputs = batch.Select(c => (float)c[59]).ToArray();
        var expected = new float[1];
        reference.Predict(inputs, expected);
        Assert.Equal(expected[0], prediction.Values[0]);
        Assert.Equal(info.Model, prediction.Model);
    }

    [Fact]
    public async Task Without_grammar_names_a_model_takes_the_pushed_vector_and_says_when_there_is_none()
    {
        byte[] bytes = File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json"));
        var registry = fixture.Grains.GetGrain<IModelRegistryGrain>(0);
        var info = await registry.Register("pushed-" + Guid.NewGuid().ToString("N"), "1", bytes);
        var asset = Asset("pushed");
        await asset.AssignModel(info.Model);

        var e = await Assert.ThrowsAsync<GridException>(() => asset.Predict());
        Assert.Equal(GridErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("takes 8 pushed features and none were pushed", e.Message, StringComparison.Ordinal);

        float[] vector = [0.1f, -0.2f, 0.3f, 1.5f, -1, 0, 2, 0.5f];
        await asset.PushFeatures(vector);
        var prediction = await asset.Predict();
        using Model model = Model.Load(bytes, "m");
        var expected = new float[1];
        model.Predict(vector, expected);
        Assert.Equal(expected[0], prediction.Values[0]);
    }

    [Fact]
    public async Task Registering_a_new_version_and_switching_to_it_takes_effect_at_once()
    {
        var registry = fixture.Grains.GetGrain<IModelRegistryGrain>(0);
        string name = "swap-" + Guid.NewGuid().ToString("N");
        var v1 = await registry.Register(name, "1", File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json")));
        var v2 = await registry.Register(name, "2", File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-cls-d4-n80.json")));
        var asset = Asset("swap");
        await asset.PushFeatures(Enumerable.Repeat(0.25f, 8).ToArray());
        await asset.AssignModel(v1.Model);
        Assert.Equal(v1.Model, (await asset.Predict()).Model);

        await asset.PushFeatures(Enumerable.Repeat(0.25f, 10).ToArray());
        await asset.AssignModel(v2.Model);
        Assert.Equal(v2.Model, (await asset.Predict()).Model);
    }

    [Fact]
    public async Task The_registry_refuses_bad_models_and_unknown_versions_by_name()
    {
        var registry = fixture.Grains.GetGrain<IModelRegistryGrain>(0);
        var bad = await Assert.ThrowsAsync<GridException>(() => registry.Register("bad", "1", "{\"learner\": {}}"u8.ToArray()));
        Assert.Equal(GridErrorKind.InvalidArgument, bad.Kind);
        Assert.Contains("missing learner.learner_model_param", bad.Message, StringComparison.Ordinal);

        var missing = await Assert.ThrowsAsync<GridException>(() => registry.GetBytes(new ModelRef("nope", "9")));
        Assert.Equal(GridErrorKind.NotFound, missing.Kind);
        Assert.Equal("model nope@9 is not registered", missing.Message);

        string name = "immutable-" + Guid.NewGuid().ToString("N");
        await registry.Register(name, "1", File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-logistic-d3-n60.json")));
        var clash = await Assert.ThrowsAsync<GridException>(() => registry.Register(name, "1", File.ReadAllBytes(RepoPaths.Fixture("models", "xgb-cls-d4-n80.json"))));
        Assert.Equal(GridErrorKind.FailedPrecondition, clash.Kind);
    }
}
