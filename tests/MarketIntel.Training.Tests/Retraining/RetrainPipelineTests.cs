using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MarketIntel.Features;
using MarketIntel.Training.Drift;
using MarketIntel.Training.Retraining;
using MarketIntel.Tests;
using static MarketIntel.Tests.WalkBars;

namespace MarketIntel.Training.Tests.Retraining;

/// <summary>
/// The training half of a retraining job: pooled rows, walk-forward validation, the final model, its lineage and
/// profile, progress, cancellation and determinism.
/// </summary>
public sealed class RetrainPipelineTests
{
    private const string Spec = "rsi_5,roc_3,zscore_10";
    private static readonly LabelDefinition UpTwo = new(LabelKind.Direction, 2);

    private static RetrainPlan Plan(LabelDefinition? label = null, int rounds = 12, int folds = 3, int threads = 2) =>
        new("direction", Spec, label ?? UpTwo, BoostParameters.ForLabel((label ?? UpTwo).Kind) with { Rounds = rounds, Threads = threads },
            folds, ProfileBuilder.DefaultBins, "v0", "marketintel retrain (job test)");

    // Two assets on overlapping days (the same times from day 17 on), each a random walk whose next move leans on the last.
    private static AssetBars[] Assets() => [Walk("BBB", 300, seed: 1, startDay: 0), Walk("AAA", 260, seed: 2, startDay: 17)];

    [Fact]
    public void Validation_scores_equal_an_independent_walk_forward_over_the_pooled_rows()
    {
        RetrainPlan plan = Plan();
        AssetBars[] assets = Assets();
        RetrainOutput output = RetrainPipeline.Run(plan, assets, null, CancellationToken.None);

        // Rows per asset, pooled by time (ties by asset name), each with the time of the bar its label looks at.
        FeatureSet spec = FeatureSet.Parse(Spec);
        var pooled = new List<(long Time, string Asset, float[] X, float Y, long LabelTime)>();
        foreach (AssetBars a in assets)
        {
            Dataset d = Dataset.Build(a.Bars, spec, 2, LabelKind.Direction);
            long Time(int bar) => long.Parse(a.Bars.Timestamps[bar], CultureInfo.InvariantCulture);
            for (int r = 0; r < d.Rows; r++)
            {
                pooled.Add((Time(d.BarIndex[r]), a.Asset, d.Row(r).ToArray(), d.Labels[r], Time(d.BarIndex[r] + 2)));
            }
        }
        pooled = [.. pooled.OrderBy(p => p.Time).ThenBy(p => p.Asset, StringComparer.Ordinal)];
        int n = pooled.Count, test = n / 4;
        Assert.Equal(n, output.Rows);
        var predicted = new List<double>();
        var labels = new List<float>();
        for (int f = 0; f < 3; f++)
        {
            int start = n - (3 - f) * test;
            var train = pooled.Take(start).Where(p => p.LabelTime <= pooled[start].Time).ToArray();
            BoostedTrees model = GradientBooster.Train(train.SelectMany(p => p.X).ToArray(), [.. spec.Names], train.Select(p => p.Y).ToArray(), plan.Parameters);
            foreach (var row in pooled.Skip(start).Take(test))
            {
                predicted.Add(model.Predict(row.X));
                labels.Add(row.Y);
            }
        }

        double accuracy = predicted.Zip(labels).Count(z => (z.First > 0.5) == (z.Second == 1)) / (double)labels.Count;
        double logLoss = -predicted.Zip(labels).Average(z => z.Second == 1 ? Math.Log(z.First) : Math.Log(1 - z.First));
        // AUC by its definition: the share of (up, down) pairs in which the up row scored higher, ties counting half.
        double[] up = [.. predicted.Where((_, i) => labels[i] == 1)];
        double[] down = [.. predicted.Where((_, i) => labels[i] == 0)];
        double auc = up.Sum(u => down.Sum(d => u > d ? 1.0 : u == d ? 0.5 : 0)) / (up.Length * (double)down.Length);
        Assert.Equal(accuracy, output.Validation["accuracy"], 12);
        Assert.Equal(auc, output.Validation["auc"], 12);
        Assert.Equal(logLoss, output.Validation["logLoss"], 12);
        Assert.Equal(3 * test, output.Validation["testRows"]);
        Assert.Equal(3, output.Validation["folds"]);
    }

    [Fact]
    public void On_one_asset_the_folds_are_backtests_and_a_log_return_is_scored_by_its_root_mean_square_error()
    {
        // One asset's rows are consecutive bars, so leaving out training rows whose label reaches the test window is
        // WalkForward's gap of horizon - 1 rows, as `backtest` splits.
        var label = new LabelDefinition(LabelKind.LogReturn, 3);
        RetrainPlan plan = Plan(label);
        AssetBars asset = Walk("ONE", 220, 5, 0);
        RetrainOutput output = RetrainPipeline.Run(plan, [asset], null, CancellationToken.None);

        Dataset rows = Dataset.Build(asset.Bars, FeatureSet.Parse(Spec), 3, LabelKind.LogReturn);
        int test = rows.Rows / 4, width = rows.FeatureCount;
        double squares = 0;
        foreach (Fold fold in WalkForward.Folds(rows.Rows, rows.Rows - 3 * test - 2, test, rolling: false, horizon: 3))
        {
            BoostedTrees model = GradientBooster.Train(rows.Features.AsSpan(0, fold.TrainEnd * width), rows.FeatureNames, rows.Labels.AsSpan(0, fold.TrainEnd), plan.Parameters);
            for (int r = fold.TestStart; r < fold.TestEnd; r++)
            {
                squares += Math.Pow(model.Predict(rows.Row(r)) - rows.Labels[r], 2);
            }
        }
        Assert.Equal(["rmse", "testRows", "folds"], output.Validation.Keys);
        Assert.Equal(Math.Sqrt(squares / (3 * test)), output.Validation["rmse"], 12);
        using JsonDocument lineage = JsonDocument.Parse(output.Lineage);
        Assert.Equal("reg:squarederror", lineage.RootElement.GetProperty("parameters").GetProperty("objective").GetString());
        Assert.Equal("logret_3", lineage.RootElement.GetProperty("label").GetProperty("name").GetString());
    }

    [Fact]
    public void The_lineage_describes_the_model_and_round_trips_into_the_same_plan()
    {
        RetrainPlan plan = Plan();
        AssetBars[] assets = Assets();
        RetrainOutput output = RetrainPipeline.Run(plan, assets, null, CancellationToken.None);
        using JsonDocument document = JsonDocument.Parse(output.Lineage);
        JsonElement root = document.RootElement;

        string sha = Convert.ToHexStringLower(SHA256.HashData(output.Model));
        Assert.Equal(sha[..12], output.Version);
        Assert.Equal(sha, root.GetProperty("modelSha256").GetString());
        Assert.Equal(plan.Tool, root.GetProperty("tool").GetString());
        Assert.Equal("v0", root.GetProperty("replaces").GetString());
        Assert.Equal("up_2", root.GetProperty("label").GetProperty("name").GetString());
        Assert.Equal(Spec, root.GetProperty("spec").GetString());
        // The model's own feature names are the lineage's.
        using (var model = Inference.Model.Load(output.Model, "challenger"))
        {
            Assert.Equal(model.FeatureNames!, root.GetProperty("features").EnumerateArray().Select(f => f.GetString()!));
        }
        JsonElement data = root.GetProperty("data");
        Assert.Equal("archive", data.GetProperty("file").GetString());
        Assert.Equal(["AAA", "BBB"], data.GetProperty("assets").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(output.Rows, data.GetProperty("rows").GetInt32());
        Assert.Equal(CanonicalSha(assets), data.GetProperty("sha256").GetString());
        foreach (var (name, value) in output.Validation)
        {
            Assert.Equal(value, root.GetProperty("validation").GetProperty(name).GetDouble());
        }

        RetrainPlan again = RetrainPlans.FromLineage(plan.Name, output.Version, output.Lineage, null, null, plan.Folds, plan.ProfileBins, plan.Tool);
        Assert.Equal(plan.Spec, again.Spec);
        Assert.Equal(plan.Label, again.Label);
        Assert.Equal(plan.Parameters with { Threads = 0 }, again.Parameters);
        Assert.Equal(output.Version, again.Replaces);
    }

    // The documented text form, written out here independently of the pipeline.
    private static string CanonicalSha(IEnumerable<AssetBars> assets)
    {
        var text = new StringBuilder();
        foreach (AssetBars a in assets.OrderBy(a => a.Asset, StringComparer.Ordinal))
        {
            text.Append("asset ").Append(a.Asset).Append('\n');
            for (int t = 0; t < a.Bars.Count; t++)
            {
                text.Append(CultureInfo.InvariantCulture, $"{a.Bars.Timestamps[t]},{a.Bars.Open[t]:R},{a.Bars.High[t]:R},{a.Bars.Low[t]:R},{a.Bars.Close[t]:R},{a.Bars.Volume[t]:R}\n");
            }
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    [Fact]
    public void The_profile_has_the_plans_bins_for_every_feature_and_the_prediction()
    {
        RetrainPlan plan = Plan() with { ProfileBins = 7 };
        RetrainOutput output = RetrainPipeline.Run(plan, Assets(), null, CancellationToken.None);
        using JsonDocument document = JsonDocument.Parse(output.Lineage);
        ReferenceProfile profile = ReferenceProfile.Read(document.RootElement.GetProperty("profile"), "profile");
        Assert.Equal(output.Rows, profile.Rows);
        Assert.Equal(FeatureSet.Parse(Spec).Names, profile.Features.Select(f => f.Name));
        // Continuous series over hundreds of rows: each gets every bin it aims at.
        Assert.All(profile.Features, f => Assert.Equal(7, f.Bins));
        Assert.Equal(7, profile.Prediction!.Bins);
    }

    [Fact]
    public void Progress_rises_step_by_step_and_ends_at_the_totals()
    {
        var steps = new RecordedSteps();
        RetrainOutput output = RetrainPipeline.Run(Plan(rounds: 40), Assets(), steps, CancellationToken.None);
        List<RetrainStep> seen = steps.Seen;
        Assert.Equal(new RetrainStep(output.Rows, 0, 3, 0, 40, null), seen[0]);
        Assert.Equal([1, 2, 3], seen.Where(s => s.RoundsDone == 0).Skip(1).Select(s => s.FoldsDone));
        for (int i = 1; i < seen.Count; i++)
        {
            Assert.True(seen[i].FoldsDone >= seen[i - 1].FoldsDone && seen[i].RoundsDone >= seen[i - 1].RoundsDone, $"step {i} went back: {seen[i - 1]} then {seen[i]}");
            Assert.Equal(output.Rows, seen[i].Rows);
        }
        // Scores come with the last fold and stay; the final model reports every few rounds.
        Assert.All(seen.Where(s => s.FoldsDone == 3), s => Assert.Same(output.Validation, s.Validation));
        Assert.Equal([2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40], seen.Where(s => s.RoundsDone > 0).Select(s => s.RoundsDone));
        Assert.Equal(new RetrainStep(output.Rows, 3, 3, 40, 40, output.Validation), seen[^1]);
    }

    [Fact]
    public void Cancelling_stops_between_folds_and_inside_the_final_models_rounds()
    {
        using var betweenFolds = new CancellationTokenSource();
        var first = new RecordedSteps { Then = s => { if (s.FoldsDone == 1) { betweenFolds.Cancel(); } } };
        Assert.ThrowsAny<OperationCanceledException>(() => RetrainPipeline.Run(Plan(), Assets(), first, betweenFolds.Token));
        Assert.Equal(1, first.Seen.Max(s => s.FoldsDone));

        using var inRounds = new CancellationTokenSource();
        var second = new RecordedSteps { Then = s => { if (s.RoundsDone == 10) { inRounds.Cancel(); } } };
        Assert.ThrowsAny<OperationCanceledException>(() => RetrainPipeline.Run(Plan(rounds: 100), Assets(), second, inRounds.Token));
        Assert.Equal(10, second.Seen.Max(s => s.RoundsDone));

        using var before = new CancellationTokenSource();
        before.Cancel();
        var none = new RecordedSteps();
        Assert.ThrowsAny<OperationCanceledException>(() => RetrainPipeline.Run(Plan(), Assets(), none, before.Token));
        Assert.Empty(none.Seen);
    }

    [Fact]
    public async Task The_same_bars_and_plan_make_the_same_bytes_whatever_the_threads_and_the_order_of_the_assets()
    {
        AssetBars[] assets = Assets();
        RetrainOutput one = RetrainPipeline.Run(Plan(threads: 1), assets, null, CancellationToken.None);
        // Two runs at once on pool threads, with other thread counts and the assets the other way round.
        RetrainOutput[] others = await Task.WhenAll(
            Task.Run(() => RetrainPipeline.Run(Plan(threads: 3), [.. assets.Reverse()], null, CancellationToken.None)),
            Task.Run(() => RetrainPipeline.Run(Plan(threads: 2), assets, null, CancellationToken.None)));
        foreach (RetrainOutput other in others)
        {
            Assert.Equal(one.Model, other.Model);
            Assert.Equal(one.Version, other.Version);
            Assert.Equal(one.Lineage, other.Lineage);
        }
        // And other bars make another version.
        RetrainOutput shorter = RetrainPipeline.Run(Plan(), [assets[0], Walk("AAA", 259, seed: 2, startDay: 17)], null, CancellationToken.None);
        Assert.NotEqual(one.Version, shorter.Version);
    }

    [Fact]
    public void Too_few_bars_for_the_folds_are_refused_naming_each_asset_and_its_counts()
    {
        AssetBars tiny = Walk("TINY", 40, 1, 0);
        int rows = Dataset.Build(tiny.Bars, FeatureSet.Parse(Spec), 2, LabelKind.Direction).Rows;
        var e = Assert.Throws<ArgumentException>(() => RetrainPipeline.Run(Plan(folds: 5), [tiny, Walk("NONE", 2, 2, 0)], null, CancellationToken.None));
        Assert.Contains($"NONE (2 bars, 0 rows), TINY (40 bars, {rows} rows) give {rows} rows", e.Message, StringComparison.Ordinal);
        Assert.Contains("5 walk-forward folds", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bogus_3", "spec 'bogus_3'")]
    [InlineData("objective", "objective 'reg:squarederror' does not fit label up_2")]
    [InlineData("folds", "folds 0 must be at least 1")]
    [InlineData("bins", "profile bins 0 must be from 1 to 254")]
    [InlineData("depth", "parameters: max_depth 0 must be from 1 to 16")]
    public void A_bad_plan_is_refused_naming_the_model_and_the_field(string what, string message)
    {
        RetrainPlan plan = what switch
        {
            "objective" => Plan() with { Parameters = Plan().Parameters with { Objective = "reg:squarederror" } },
            "folds" => Plan(folds: 0),
            "bins" => Plan() with { ProfileBins = 0 },
            "depth" => Plan() with { Parameters = Plan().Parameters with { MaxDepth = 0 } },
            _ => Plan() with { Spec = what },
        };
        var e = Assert.Throws<ArgumentException>(() => RetrainPipeline.Run(plan, Assets(), null, CancellationToken.None));
        Assert.Contains("model 'direction'", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("3", "2", "ODD: bar 2 (2) does not come after bar 1 (3)")]
    [InlineData("3", "2024-01-02", "ODD: bar 2's timestamp '2024-01-02' is not Unix milliseconds")]
    public void Bars_out_of_time_order_or_without_a_time_are_refused_naming_the_asset_and_the_bar(string first, string second, string message)
    {
        var bars = BarSeries.FromCloses([first, second], [1, 2]);
        var e = Assert.Throws<ArgumentException>(() => RetrainPipeline.Run(Plan(), [new AssetBars("ODD", bars)], null, CancellationToken.None));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
