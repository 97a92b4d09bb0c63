using System.Text.Json;
using MarketIntel.Features;
using MarketIntel.Training.Retraining;

namespace MarketIntel.Training.Tests.Retraining;

/// <summary>Plans from a served version's lineage: the demo's hand-made one, <c>train</c>'s and <c>backtest</c>'s, overrides, and bad ones.</summary>
public sealed class RetrainPlansTests
{
    // As DemoCommand.Lineage writes it for the bundled model: a label and the model's features, nothing else.
    private const string DemoLineage = """
        {"tool": "make_demo_model.py", "label": {"name": "up_1", "kind": "direction", "horizon": 1},
         "features": ["rsi_14", "roc_10", "zscore_20", "bbpctb_20_2", "logretsd_20", "macd_12_26_9", "macdsignal_12_26_9", "lag_1_rsi_14"], "profile": null}
        """;

    private static RetrainPlan From(string? lineage, string? spec = null, string? label = null) =>
        RetrainPlans.FromLineage("direction", "d3-n60", lineage, spec, label, 4, 12, "marketintel retrain (job 7)");

    // A lineage as `train` writes it (no spec: its features came from a feature-matrix CSV) or as `backtest` does.
    private static string Written(string? spec, string[] features, LabelDefinition label, BoostParameters parameters)
    {
        var random = new Random(3);
        float[] x = [.. Enumerable.Range(0, 200 * features.Length).Select(_ => (float)random.NextDouble())];
        float[] labels = [.. Enumerable.Range(0, 200).Select(r => label.Kind == LabelKind.Direction ? (x[r * features.Length] > 0.5 ? 1f : 0f) : x[r * features.Length] - 0.5f)];
        BoostedTrees model = GradientBooster.Train(x, features, labels, parameters);
        using var bytes = new MemoryStream();
        model.WriteXgboostJson(bytes);
        return ModelLineage.Describe(model, bytes.ToArray(), "m.json", "marketintel train", spec, new TrainingRows(features, label, "row 1", "row 200", 200), x,
            new TrainingData("t.csv", "ab", null), new LineageExtras(["MSFT"], null, null, 10)).ToJson();
    }

    [Fact]
    public void The_demos_lineage_gives_its_features_as_the_spec_its_label_and_the_default_parameters()
    {
        RetrainPlan plan = From(DemoLineage);
        Assert.Equal("rsi_14,roc_10,zscore_20,bbpctb_20_2,logretsd_20,macd_12_26_9,macdsignal_12_26_9,lag_1_rsi_14", plan.Spec);
        Assert.Equal(new LabelDefinition(LabelKind.Direction, 1), plan.Label);
        Assert.Equal(new BoostParameters { Objective = "binary:logistic", MaxDepth = 3, Eta = 0.1, Rounds = 100 }, plan.Parameters);
        Assert.Equal(("direction", 4, 12, "d3-n60", "marketintel retrain (job 7)"), (plan.Name, plan.Folds, plan.ProfileBins, plan.Replaces, plan.Tool));
    }

    [Fact]
    public void A_train_lineage_gives_its_features_its_label_and_every_parameter_it_was_trained_with()
    {
        var parameters = new BoostParameters
        {
            Objective = "reg:squarederror", Rounds = 7, MaxDepth = 4, Eta = 0.2, MinChildWeight = 2, Lambda = 0.5, Alpha = 0.25, Gamma = 0.1,
            Subsample = 0.8, ColsampleBytree = 0.5, MaxBin = 64, Seed = 9,
        };
        RetrainPlan plan = From(Written(null, ["sma_5", "rsi_14"], new LabelDefinition(LabelKind.LogReturn, 3), parameters));
        Assert.Equal("sma_5,rsi_14", plan.Spec);
        Assert.Equal(new LabelDefinition(LabelKind.LogReturn, 3), plan.Label);
        Assert.Equal(parameters, plan.Parameters);
    }

    [Fact]
    public void A_backtest_lineage_keeps_its_spec_as_written()
    {
        RetrainPlan plan = From(Written("sma_5, rsi_14", ["sma_5", "rsi_14"], new LabelDefinition(LabelKind.Direction, 2), BoostParameters.ForLabel(LabelKind.Direction)));
        Assert.Equal("sma_5, rsi_14", plan.Spec);
    }

    [Fact]
    public void Overrides_replace_the_spec_and_the_label_and_the_objective_follows_the_label()
    {
        RetrainPlan plan = From(DemoLineage, spec: "sma_10", label: "logret_3");
        Assert.Equal("sma_10", plan.Spec);
        Assert.Equal(new LabelDefinition(LabelKind.LogReturn, 3), plan.Label);
        Assert.Equal("reg:squarederror", plan.Parameters.Objective);

        // With nothing served, the overrides are the whole recipe.
        RetrainPlan fresh = RetrainPlans.FromLineage("fresh", null, null, "rsi_14", "up_5", 3, 20, "t");
        Assert.Equal(("rsi_14", "up_5", "binary:logistic", (string?)null), (fresh.Spec, fresh.Label.Name, fresh.Parameters.Objective, fresh.Replaces));
    }

    [Theory]
    [InlineData("not json", "is not JSON")]
    [InlineData("[1]", "is not a JSON object")]
    [InlineData("""{"features": ["sma_5"]}""", "field 'label' is required")]
    [InlineData("""{"label": {"kind": "up", "horizon": 1}, "features": ["sma_5"]}""", "field 'label.kind' is 'up'")]
    [InlineData("""{"label": {"kind": "direction", "horizon": 0}, "features": ["sma_5"]}""", "field 'label.horizon' is required")]
    [InlineData("""{"label": {"name": "up_2", "kind": "direction", "horizon": 1}, "features": ["sma_5"]}""", "field 'label.name' (up_2)")]
    [InlineData("""{"label": {"kind": "direction", "horizon": 1}}""", "neither field 'spec' nor field 'features'")]
    [InlineData("""{"label": {"kind": "direction", "horizon": 1}, "features": "sma_5"}""", "field 'features' must be an array")]
    [InlineData("""{"label": {"kind": "direction", "horizon": 1}, "features": ["f0", "f1"]}""", "field 'features' 'f0,f1' is not a feature spec")]
    [InlineData("""{"label": {"kind": "direction", "horizon": 1}, "spec": 5}""", "field 'spec' must be a feature spec")]
    [InlineData("""{"label": {"kind": "direction", "horizon": 1}, "spec": "sma_5", "features": ["sma_6"]}""", "field 'features' (sma_6) is not what field 'spec' computes (sma_5)")]
    [InlineData("""{"label": {"kind": "direction", "horizon": 1}, "spec": "sma_5", "parameters": 3}""", "field 'parameters' must be an object")]
    [InlineData("""{"label": {"kind": "direction", "horizon": 1}, "spec": "sma_5", "parameters": {"maxDepth": "deep"}}""", "field 'parameters.maxDepth' (deep) must be a whole number")]
    [InlineData("""{"label": {"kind": "direction", "horizon": 1}, "spec": "sma_5", "parameters": {"eta": "fast"}}""", "field 'parameters.eta' (fast) must be a number")]
    [InlineData("""{"label": {"kind": "direction", "horizon": 1}, "spec": "sma_5", "parameters": {"maxDepth": 40}}""", "field 'parameters': max_depth 40 must be from 1 to 16")]
    [InlineData("""{"label": {"kind": "direction", "horizon": 1}, "spec": "sma_5", "parameters": {"objective": "reg:squarederror"}}""", "field 'parameters.objective' (reg:squarederror) does not fit label up_1")]
    public void A_bad_lineage_is_refused_naming_the_model_and_the_field(string lineage, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => From(lineage));
        Assert.Contains("lineage of model 'direction' version d3-n60", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_overrides_and_a_missing_lineage_are_refused_naming_what_is_missing()
    {
        Assert.Contains("label 'up_x' (the request's) is not up_K or logret_K", Assert.Throws<ArgumentException>(() => From(DemoLineage, label: "up_x")).Message, StringComparison.Ordinal);
        Assert.Contains("spec (the request's) 'nope_3' is not a feature spec", Assert.Throws<ArgumentException>(() => From(DemoLineage, spec: "nope_3")).Message, StringComparison.Ordinal);
        Assert.Contains("model 'direction' version d3-n60 has no lineage to take the label from", Assert.Throws<ArgumentException>(() => From(null, spec: "sma_5")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plan_from_the_demos_lineage_trains()
    {
        // The demo's features, label and defaults, on one walk: the plan is one the pipeline runs.
        RetrainPlan plan = From(DemoLineage) with { Parameters = From(DemoLineage).Parameters with { Rounds = 5 } };
        var random = new Random(4);
        double price = 50;
        string[] stamps = [.. Enumerable.Range(0, 200).Select(i => (1_600_000_000_000L + i * 86_400_000L).ToString(System.Globalization.CultureInfo.InvariantCulture))];
        double[] close = [.. stamps.Select(_ => price *= Math.Exp(0.01 * (random.NextDouble() - 0.5)))];
        RetrainOutput output = RetrainPipeline.Run(plan, [new AssetBars("MSFT", BarSeries.FromCloses(stamps, close))], null, CancellationToken.None);
        using JsonDocument lineage = JsonDocument.Parse(output.Lineage);
        Assert.Equal(8, lineage.RootElement.GetProperty("features").GetArrayLength());
    }
}
