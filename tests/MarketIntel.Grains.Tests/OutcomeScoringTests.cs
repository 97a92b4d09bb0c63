using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Features.Io;
using MarketIntel.Inference;
using MarketIntel.Tests;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// Live outcome scoring and shadows in the asset grain: every version's prediction after a bar is scored when the bar
/// its label's horizon names arrives, exactly as a computation over the same series' arrays scores it, and shadows
/// never change what clients get.
/// </summary>
public sealed class OutcomeScoringTests(OutcomeScoringTests.ScoringCluster fixture) : IClassFixture<OutcomeScoringTests.ScoringCluster>
{
    private static readonly BarSeries Msft = BarCsv.Read(RepoPaths.Data("msft-daily.csv"));

    /// <summary>The versions the tests use, registered with labels (as lineage gives them) before the registry first activates.</summary>
    internal static readonly Version[] Versions =
    [
        new("hand", "v1", "up_3", ["sma_2", "rsi_3"]),
        new("hand", "v2", "up_3", ["ema_3", "rsi_3"]),
        new("hand", "v3", "up_2", ["sma_2"]),
        new("hand", "v4", null, ["ema_3"]),
        new("ret", "r1", "logret_2", ["sma_2", "rsi_3"], "reg:squarederror"),
        new("ret", "r2", "logret_2", ["ema_3", "rsi_3"], "reg:squarederror"),
        new("twin", "t1", "up_1", ["sma_2"]),
        new("twin", "t2", "up_1", ["ema_4", "roc_2"]),
        new("delay", "d1", "up_4", ["sma_2"]),
        new("total", "s1", "up_2", ["sma_2", "rsi_3"]),
        new("total", "s2", "up_2", ["ema_3"]),
        new("metric", "m1", "up_1", ["sma_2", "rsi_3"]),
        new("metric", "m2", "logret_1", ["sma_2"], "reg:squarederror"),
        new("same", "a1", "up_2", ["sma_2", "rsi_3"]),
        new("same", "a2", "up_2", ["sma_2", "rsi_3"]),
        new("same", "a3", "up_2", ["rsi_3", "sma_2"]),
    ];

    /// <summary>A version of a test model: stumps splitting each feature at its median over the first bars of the series.</summary>
    internal sealed record Version(string Name, string Id, string? Label, string[] Features, string Objective = "binary:logistic")
    {
        public ModelRef Ref => new(Name, Id);

        public byte[] Bytes => Build(out _);

        public Model Load()
        {
            Build(out Model model);
            return model;
        }

        private byte[] Build(out Model model)
        {
            double[][] columns = FeatureSet.Parse(string.Join(',', Features)).Compute(Msft);
            float[] thresholds = columns.Select(c => (float)Median(c.Take(Bars).Where(double.IsFinite))).ToArray();
            // Leaves that differ per version and per feature, so that versions disagree and loss differences vary.
            int seed = Id.Sum(ch => ch);
            var leaves = Features.Select((_, i) => (Left: -0.4f + 0.07f * ((seed + i) % 5), Right: 0.3f + 0.05f * ((seed * 3 + i) % 7))).ToArray();
            if (seed % 2 == 1)
            {
                leaves = leaves.Select(l => (l.Right, l.Left)).ToArray();  // half the versions call the other way
            }
            if (Objective != "binary:logistic")
            {
                leaves = leaves.Select(l => (l.Left / 40, l.Right / 50 - 0.004f)).ToArray();
            }
            return HandModels.Stumps(Features, thresholds, leaves, out model, Objective);
        }

        private static double Median(IEnumerable<double> values)
        {
            double[] sorted = values.Order().ToArray();
            return sorted[sorted.Length / 2];
        }
    }

    private const int Bars = 40;

    /// <summary>Adds <see cref="Versions"/> with their labels to <paramref name="store"/>.</summary>
    internal static async Task Seed(IModelStore store)
    {
        foreach (Version version in Versions)
        {
            using Model model = version.Load();
            await store.Add(new StoredModel(
                new ModelInfo(version.Ref, model.Kind, model.FeatureNames?.ToArray(), model.FeatureCount, model.OutputNames.ToArray(), version.Label),
                version.Bytes, 0), new ModelAuditRecord(0, version.Ref.Name, ModelAudit.Register, version.Ref.Version, 0, ModelAudit.LocalClient, "{}"));
        }
    }

    /// <summary>The first <paramref name="count"/> bars of the test series from bar <paramref name="from"/>.</summary>
    internal static BarData[] BarsOf(int from, int count) => SeriesBars.Of(Msft, from, count);

    /// <summary>The labelled versions, with tallies written every 100 ms.</summary>
    public sealed class ScoringCluster : LabelledCluster<ScoringCluster>
    {
        protected override void Scoring(ScoringOptions options) => options.FlushInterval = TimeSpan.FromMilliseconds(100);
    }

    private IModelRegistryGrain Registry => fixture.Grains.GetGrain<IModelRegistryGrain>(0);

    private IAssetGrain Asset(string name) => fixture.Grains.GetGrain<IAssetGrain>($"{name}-{Guid.NewGuid():N}");

    private static Version Find(string name, string id) => Versions.Single(v => v.Name == name && v.Id == id);

    // Each version's prediction after each of the first n bars, from the batch features of the same bars.
    private static double[] Predictions(Version version, int n)
    {
        using Model model = version.Load();
        double[][] columns = FeatureSet.Parse(string.Join(',', version.Features)).Compute(Msft);
        var output = new float[1];
        return Enumerable.Range(0, n).Select(t =>
        {
            model.Predict(columns.Select(c => (float)c[t]).ToArray(), output);
            return (double)output[0];
        }).ToArray();
    }

    private sealed record Expected(long Outcomes, long Hits, double LogLoss, double Brier, double SquaredError, double[] Losses, bool[] HitsAt);

    // The scores computed directly over arrays: the prediction after bar t against the close k bars later.
    private static Expected Direct(double[] p, LabelDefinition label, int n)
    {
        var losses = new List<double>();
        var hitsAt = new List<bool>();
        double logLoss = 0, brier = 0, squared = 0;
        for (int t = 0; t + label.Horizon < n; t++)
        {
            double from = Msft.Close[t], to = Msft.Close[t + label.Horizon];
            if (label.Kind == LabelKind.Direction)
            {
                double y = to > from ? 1 : 0;
                double q = Math.Clamp(p[t], 1e-15, 1 - 1e-15);
                double loss = -(y * Math.Log(q) + (1 - y) * Math.Log(1 - q));
                logLoss += loss;
                brier += (p[t] - y) * (p[t] - y);
                losses.Add(loss);
                hitsAt.Add((p[t] > 0.5) == (y == 1));
            }
            else
            {
                double r = Math.Log(to / from);
                squared += (p[t] - r) * (p[t] - r);
                losses.Add((p[t] - r) * (p[t] - r));
                hitsAt.Add((p[t] > 0) == (r > 0));
            }
        }
        return new Expected(losses.Count, hitsAt.Count(h => h), logLoss, brier, squared, [.. losses], [.. hitsAt]);
    }

    private static void AssertTally(Expected expected, OutcomeTally tally)
    {
        Assert.Equal(expected.Outcomes, tally.Outcomes);
        Assert.Equal(expected.Hits, tally.Hits);
        Assert.Equal(expected.LogLoss, tally.LogLossSum, 1e-9);
        Assert.Equal(expected.Brier, tally.BrierSum, 1e-9);
        Assert.Equal(expected.SquaredError, tally.SquaredErrorSum, 1e-12);
    }

    // The pair's sums over d_t = loss(champion) - loss(challenger), as PairTally's documentation defines them.
    private static void AssertPair(Expected champion, Expected challenger, int horizon, PairTally pair)
    {
        double[] d = champion.Losses.Zip(challenger.Losses, (a, b) => a - b).ToArray();
        Assert.Equal(d.Length, pair.Pairs);
        Assert.Equal(Enumerable.Range(0, d.Length).Count(t => champion.HitsAt[t] && challenger.HitsAt[t]), pair.BothHit);
        Assert.Equal(Enumerable.Range(0, d.Length).Count(t => champion.HitsAt[t] && !challenger.HitsAt[t]), pair.ChampionOnlyHits);
        Assert.Equal(Enumerable.Range(0, d.Length).Count(t => !champion.HitsAt[t] && challenger.HitsAt[t]), pair.ChallengerOnlyHits);
        Assert.Equal(d.Sum(), pair.DifferenceSum, 1e-9);
        Assert.Equal(d.Sum(x => x * x), pair.DifferenceSquareSum, 1e-9);
        Assert.Equal(horizon - 1, pair.LagProducts.Length);
        for (int l = 1; l < horizon; l++)
        {
            int[] ts = Enumerable.Range(l, d.Length - l).ToArray();
            Assert.Equal(ts.Sum(t => d[t] * d[t - l]), pair.LagProducts[l - 1], 1e-9);
            Assert.Equal(ts.Sum(t => d[t]), pair.LagLeading[l - 1], 1e-9);
            Assert.Equal(ts.Sum(t => d[t - l]), pair.LagTrailing[l - 1], 1e-9);
            Assert.Equal(ts.Length, pair.LagCounts[l - 1]);
        }
    }

    [Fact]
    public async Task Direction_scores_equal_a_computation_over_the_series_arrays_for_the_served_version_and_each_shadow()
    {
        await Registry.SetShadow(new ModelRef("hand", "v2"), true, "test");
        await Registry.SetShadow(new ModelRef("hand", "v3"), true, "test");
        await Registry.SetShadow(new ModelRef("hand", "v4"), true, "test");
        var asset = Asset("hand");
        await asset.AssignModel(new ModelRef("hand", "v1"));
        var bars = BarsOf(0, Bars);
        await asset.AddBars(bars[..7]);  // batches of any size score the same
        await asset.AddBars(bars[7..]);

        ModelScores scores = await asset.GetScores();
        Expected v1 = Direct(Predictions(Find("hand", "v1"), Bars), new LabelDefinition(LabelKind.Direction, 3), Bars);
        Expected v2 = Direct(Predictions(Find("hand", "v2"), Bars), new LabelDefinition(LabelKind.Direction, 3), Bars);
        Expected v3 = Direct(Predictions(Find("hand", "v3"), Bars), new LabelDefinition(LabelKind.Direction, 2), Bars);
        Assert.Equal(Bars - 3, v1.Outcomes);
        Assert.InRange(v1.Hits, 1, v1.Outcomes - 1);  // the series gives the test hits and misses to count
        AssertTally(v1, scores.Versions.Single(t => t.Model.Version == "v1"));
        AssertTally(v2, scores.Versions.Single(t => t.Model.Version == "v2"));
        AssertTally(v3, scores.Versions.Single(t => t.Model.Version == "v3"));
        Assert.DoesNotContain(scores.Versions, t => t.Model.Version == "v4");  // no label: not scored

        // Paired only with the shadow of the same label (v3 looks 2 bars ahead, v1 3).
        PairTally pair = Assert.Single(scores.Pairs);
        Assert.Equal((new ModelRef("hand", "v1"), new ModelRef("hand", "v2")), (pair.Champion, pair.Challenger));
        Assert.NotEqual(0, pair.ChampionOnlyHits + pair.ChallengerOnlyHits);
        AssertPair(v1, v2, 3, pair);
    }

    [Fact]
    public async Task Shadows_that_take_the_served_versions_inputs_each_predict_and_score_their_own_model()
    {
        // a2 takes the served version's features in the same order (their rows are shared), a3 the same ones in
        // another order (its own rows); each is another model, so each must be scored on its own predictions.
        await Registry.SetShadow(new ModelRef("same", "a2"), true, "test");
        await Registry.SetShadow(new ModelRef("same", "a3"), true, "test");
        var asset = Asset("same");
        await asset.AssignModel(new ModelRef("same", "a1"));
        var bars = BarsOf(0, Bars);
        await asset.AddBars(bars[..9]);
        await asset.AddBars(bars[9..]);

        ModelScores scores = await asset.GetScores();
        var label = new LabelDefinition(LabelKind.Direction, 2);
        Expected[] expected = [.. new[] { "a1", "a2", "a3" }.Select(id => Direct(Predictions(Find("same", id), Bars), label, Bars))];
        Assert.NotEqual(expected[0].Losses, expected[1].Losses);  // the versions disagree: a shared prediction would show
        Assert.NotEqual(expected[0].Losses, expected[2].Losses);
        for (int i = 0; i < 3; i++)
        {
            AssertTally(expected[i], scores.Versions.Single(t => t.Model.Version == "a" + (i + 1).ToString(CultureInfo.InvariantCulture)));
        }
        AssertPair(expected[0], expected[1], 2, scores.Pairs.Single(p => p.Challenger.Version == "a2"));
        AssertPair(expected[0], expected[2], 2, scores.Pairs.Single(p => p.Challenger.Version == "a3"));
    }

    [Fact]
    public async Task Return_scores_are_squared_errors_and_sign_hits_of_the_log_return_k_bars_later()
    {
        await Registry.SetShadow(new ModelRef("ret", "r2"), true, "test");
        var asset = Asset("ret");
        await asset.AssignModel(new ModelRef("ret", "r1"));
        await asset.AddBars(BarsOf(0, Bars));

        ModelScores scores = await asset.GetScores();
        var label = new LabelDefinition(LabelKind.LogReturn, 2);
        Expected r1 = Direct(Predictions(Find("ret", "r1"), Bars), label, Bars);
        Expected r2 = Direct(Predictions(Find("ret", "r2"), Bars), label, Bars);
        OutcomeTally served = scores.Versions.Single(t => t.Model.Version == "r1");
        AssertTally(r1, served);
        Assert.Equal((LabelKind.LogReturn, 2, 0.0, 0.0), (served.Kind, served.Horizon, served.LogLossSum, served.BrierSum));
        Assert.True(served.SquaredErrorSum > 0);
        AssertTally(r2, scores.Versions.Single(t => t.Model.Version == "r2"));
        AssertPair(r1, r2, 2, Assert.Single(scores.Pairs));
    }

    [Fact]
    public async Task A_prediction_is_scored_only_when_the_bar_its_horizon_names_arrives()
    {
        var asset = Asset("delay");
        await asset.AssignModel(new ModelRef("delay", "d1"));  // up_4
        var bars = BarsOf(0, 10);
        var outcomes = new List<long>();
        foreach (BarData bar in bars)
        {
            await asset.AddBars([bar]);
            outcomes.Add((await asset.GetScores()).Versions.SingleOrDefault()?.Outcomes ?? 0);
        }
        // Bars 0-3 score nothing; bar 4 scores the prediction after bar 0, and so on, one per bar.
        Assert.Equal([0L, 0, 0, 0, 1, 2, 3, 4, 5, 6], outcomes);
        double p0 = Predictions(Find("delay", "d1"), 1)[0];
        bool up = Msft.Close[4] > Msft.Close[0];
        Assert.Equal((p0 > 0.5) == up ? 1 : 0, (await DelayAfter(bars[..5])).Hits);
    }

    private async Task<OutcomeTally> DelayAfter(BarData[] bars)
    {
        var asset = Asset("delay-one");
        await asset.AssignModel(new ModelRef("delay", "d1"));
        await asset.AddBars(bars);
        return Assert.Single((await asset.GetScores()).Versions);
    }

    [Fact]
    public async Task Shadows_never_change_what_clients_get()
    {
        // The shadow takes features the served version does not (the spec grows for it).
        await Registry.SetShadow(new ModelRef("twin", "t2"), true, "test");
        var asset = Asset("twin");
        await asset.AssignModel(new ModelRef("twin", "t1"));
        var collector = new Collector();
        await asset.Subscribe(fixture.Grains.CreateObjectReference<IPredictionObserver>(collector), TimeSpan.FromHours(1));
        var bars = BarsOf(0, Bars);
        var answered = new List<PredictionResult>();
        foreach (BarData bar in bars)
        {
            await asset.AddBars([bar]);
            answered.Add(await asset.Predict());
        }

        // What the served version alone predicts from the same bars.
        var alone = Predictions(Find("twin", "t1"), Bars).Select((p, t) => ((float)p, new ModelRef("twin", "t1"), bars[t].Timestamp)).ToArray();
        Assert.Equal(alone, answered.Select(p => (p.Values[0], p.Model, p.AsOf)));
        // Observers get one-way calls, which may arrive in any order: in time order they are the same predictions.
        PredictionResult[] sent = [.. (await collector.Take(Bars)).OrderBy(p => p.AsOf)];
        Assert.Equal(alone, sent.Select(p => (p.Values[0], p.Model, p.AsOf)));
        Assert.All(answered.Concat(sent), p => Assert.Single(p.Values));
        // The shadow did predict, and was scored beside the served version.
        ModelScores scores = await asset.GetScores();
        Assert.Equal(Bars - 1, scores.Versions.Single(t => t.Model.Version == "t2").Outcomes);
        Assert.Equal(Bars - 1, Assert.Single(scores.Pairs).Pairs);
    }

    [Fact]
    public async Task Each_asset_stores_its_tallies_and_a_model_names_totals_are_their_sums()
    {
        await Registry.SetShadow(new ModelRef("total", "s2"), true, "test");
        var first = Asset("total-a");
        var second = Asset("total-b");
        await first.AssignModel(new ModelRef("total", "s1"));
        await second.AssignModel(new ModelRef("total", "s1"));
        await first.AddBars(BarsOf(0, Bars));
        await second.AddBars(BarsOf(5, Bars - 10));

        ModelScores expected = ModelScores.Sum([await first.GetScores(), await second.GetScores()]);
        ModelScores totals = await Eventually(() => ScoringCluster.Scores.Totals("total"),
            t => t.Versions.Sum(v => v.Outcomes) == expected.Versions.Sum(v => v.Outcomes));
        foreach (OutcomeTally tally in expected.Versions)
        {
            OutcomeTally total = totals.Versions.Single(t => t.Model == tally.Model);
            Assert.Equal((tally.Outcomes, tally.Hits), (total.Outcomes, total.Hits));
            Assert.Equal(tally.LogLossSum, total.LogLossSum, 1e-9);
        }
        PairTally pair = Assert.Single(totals.Pairs);
        Assert.Equal((Bars - 2) + (Bars - 10 - 2), pair.Pairs);
        Assert.Equal(expected.Pairs.Single().LagProducts, pair.LagProducts);
    }

    [Fact]
    public async Task The_silo_counts_each_versions_outcomes_and_loss_sums_under_its_model_label()
    {
        await Registry.SetShadow(new ModelRef("metric", "m2"), true, "test");
        var first = Asset("metric-a");
        var second = Asset("metric-b");
        await first.AssignModel(new ModelRef("metric", "m1"));
        await second.AssignModel(new ModelRef("metric", "m1"));
        await first.AddBars(BarsOf(0, 20));
        await second.AddBars(BarsOf(0, 30));
        ModelScores expected = ModelScores.Sum([await first.GetScores(), await second.GetScores()]);

        var read = new Dictionary<(string Instrument, string Model), double>();
        using (var listener = new System.Diagnostics.Metrics.MeterListener())
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == GridMetrics.MeterName && instrument.Name.StartsWith("marketintel_model_", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            void Record<T>(System.Diagnostics.Metrics.Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
            {
                Assert.Equal("model", Assert.Single(tags.ToArray()).Key);  // never per asset
                read[(instrument.Name, (string)tags[0].Value!)] = Convert.ToDouble(value, CultureInfo.InvariantCulture);
            }
            listener.SetMeasurementEventCallback<long>(Record);
            listener.SetMeasurementEventCallback<double>(Record);
            listener.Start();
            listener.RecordObservableInstruments();
        }

        OutcomeTally m1 = expected.Versions.Single(t => t.Model.Version == "m1");
        OutcomeTally m2 = expected.Versions.Single(t => t.Model.Version == "m2");
        Assert.Equal(19 + 29, m1.Outcomes);
        Assert.Equal(m1.Outcomes, read[("marketintel_model_outcomes_total", "metric@m1")]);
        Assert.Equal(m1.Hits, read[("marketintel_model_hits_total", "metric@m1")]);
        Assert.Equal(m1.LogLossSum, read[("marketintel_model_log_loss_total", "metric@m1")], 1e-9);
        Assert.Equal(m1.BrierSum, read[("marketintel_model_brier_total", "metric@m1")], 1e-9);
        Assert.Equal(0, read[("marketintel_model_squared_error_total", "metric@m1")]);
        Assert.Equal(m2.Outcomes, read[("marketintel_model_outcomes_total", "metric@m2")]);
        Assert.Equal(m2.SquaredErrorSum, read[("marketintel_model_squared_error_total", "metric@m2")], 1e-12);
    }

    [Fact]
    public async Task A_call_of_many_bars_predicts_scores_and_publishes_as_one_bar_calls_do()
    {
        // More bars than one prediction batch holds (BarPredictions.MaxBars), so the call is predicted in two batches.
        int Many = Msft.Count;
        await Registry.SetShadow(new ModelRef("twin", "t2"), true, "test");
        var bars = BarsOf(0, Many);
        var once = Asset("twin-once");
        var each = Asset("twin-each");
        var seen = new Dictionary<IAssetGrain, Collector>();
        foreach (IAssetGrain asset in new[] { once, each })
        {
            await asset.AssignModel(new ModelRef("twin", "t1"));
            seen[asset] = new Collector();
            await asset.Subscribe(fixture.Grains.CreateObjectReference<IPredictionObserver>(seen[asset]), TimeSpan.FromHours(1));
        }
        await once.AddBars(bars);
        foreach (BarData bar in bars)
        {
            await each.AddBars([bar]);
        }

        // Every bar's prediction, as of that bar, is the served version's own, whether the bars came together or apart.
        var expected = Predictions(Find("twin", "t1"), Many).Select((p, t) => ((float)p, bars[t].Timestamp)).ToArray();
        foreach (IAssetGrain asset in new[] { once, each })
        {
            PredictionResult[] sent = [.. (await seen[asset].Take(Many)).OrderBy(p => p.AsOf)];
            Assert.Equal(expected, sent.Select(p => (p.Values[0], p.AsOf)));
        }
        // The served version and the shadow were scored the same way on every bar.
        ModelScores together = await once.GetScores(), apart = await each.GetScores();
        Assert.Equal(Many - 1, together.Versions.Single(t => t.Model.Version == "t2").Outcomes);
        foreach (OutcomeTally tally in apart.Versions)
        {
            OutcomeTally same = together.Versions.Single(t => t.Model == tally.Model);
            Assert.Equal((tally.Outcomes, tally.Hits), (same.Outcomes, same.Hits));
            Assert.Equal(tally.LogLossSum, same.LogLossSum, 1e-9);
        }
        PairTally pair = Assert.Single(together.Pairs);
        Assert.Equal(Assert.Single(apart.Pairs).Pairs, pair.Pairs);
        Assert.Equal(Many - 1, pair.Pairs);
    }

    private static async Task<T> Eventually<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        T value;
        while (!done(value = await read()) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        return value;
    }

    private sealed class Collector : IPredictionObserver
    {
        private readonly System.Threading.Channels.Channel<PredictionResult> _received = System.Threading.Channels.Channel.CreateUnbounded<PredictionResult>();

        public Task OnPredictions(IReadOnlyList<PredictionResult> predictions)
        {
            foreach (PredictionResult prediction in predictions)
            {
                _received.Writer.TryWrite(prediction);
            }
            return Task.CompletedTask;
        }

        public async Task<PredictionResult[]> Take(int count)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var taken = new PredictionResult[count];
            for (int i = 0; i < count; i++)
            {
                taken[i] = await _received.Reader.ReadAsync(timeout.Token);
            }
            return taken;
        }
    }
}
