using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Features;
using MarketIntel.Tests;
using MarketIntel.Training.Drift;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// Drift tracking in the asset grain: the served version's inputs and prediction are counted into a window of the last
/// W bars exactly as a batch recount of the same bars counts them, a walk that grows more volatile than the reference
/// drifts while one like it does not, and an asset without a model or a reference says so instead of giving numbers.
/// </summary>
public sealed class DriftTrackingTests(DriftTrackingTests.DriftCluster fixture) : IClassFixture<DriftTrackingTests.DriftCluster>
{
    private const int Window = 100;

    /// <summary>The reference period: a calm walk.</summary>
    private static readonly BarSeries Reference = DriftSeries.Walk(seed: 1, count: 4000, sigma: 0.01);

    private static readonly ReferenceProfile Profile = DriftSeries.Profile(Reference);

    /// <summary>A one-silo cluster with windows of 100 bars, evaluated every 10 and written every 100 ms to a store the tests read.</summary>
    public sealed class DriftCluster : DriftCluster<DriftCluster>
    {
        protected override void Grid(GridOptions options)
        {
            options.Drift.Window = Window;
            options.Drift.EvaluateEveryBars = 10;
            options.Drift.FlushInterval = TimeSpan.FromMilliseconds(100);
        }

        protected override async Task Seed(IGrainFactory grains)
        {
            IModelRegistryGrain registry = grains.GetGrain<IModelRegistryGrain>(0);
            byte[] bytes = DriftSeries.Model(out var model);
            model.Dispose();
            await registry.Register(new ModelRegistration("walk", "v1", bytes, DriftSeries.Lineage(Profile, accuracy: 0.5, logLoss: 0.69), null, null, "test"));
            await registry.Register(new ModelRegistration("walk", "bare", bytes, DriftSeries.Lineage(null), null, null, "test"));
        }
    }

    private async Task<(IAssetGrain Grain, string Name)> Asset(string version)
    {
        string name = $"drift-{Guid.NewGuid():N}";
        IAssetGrain grain = fixture.Grains.GetGrain<IAssetGrain>(name);
        await grain.AssignModel(new ModelRef("walk", version));
        return (grain, name);
    }

    private static async Task Feed(IAssetGrain grain, BarSeries walk, int from, int count)
    {
        for (int at = from; at < from + count; at += 50)
        {
            IngestResult result = await grain.AddBars(DriftSeries.Bars(walk, at, Math.Min(50, from + count - at)));
            Assert.Equal(0, result.Rejected);
        }
    }

    private static SeriesDrift[] AllSeries(AssetDrift drift) => [.. drift.Features, drift.Prediction!];

    private static void AssertEqual(FeatureDrift expected, SeriesDrift actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.MissingRate, actual.MissingRate);
        Assert.Equal(expected.Psi, actual.Psi);
        Assert.Equal(expected.JensenShannon, actual.JensenShannon);
        Assert.Equal(expected.Wasserstein, actual.Wasserstein);
        Assert.Equal(expected.ChiSquare, actual.ChiSquare);
        Assert.Equal(expected.DegreesOfFreedom, actual.DegreesOfFreedom);
        Assert.Equal(expected.PValue, actual.PValue);
    }

    [Fact]
    public async Task The_window_holds_what_a_batch_recount_of_the_last_W_bars_holds_while_it_fills_and_after()
    {
        var (grain, _) = await Asset("v1");
        BarSeries walk = DriftSeries.Walk(seed: 2, count: 400, sigma: 0.01);
        int fed = 0;
        foreach (int upTo in new[] { 60, 100, 237, 400 })
        {
            await Feed(grain, walk, fed, upTo - fed);
            fed = upTo;
            AssetDrift drift = await grain.GetDrift();
            Assert.Equal(new ModelRef("walk", "v1"), drift.Model);
            Assert.Equal(Window, drift.Window);
            Assert.Equal(Math.Min(upTo, Window), drift.Count);
            Assert.Equal(upTo < Window ? DriftStatus.WarmingUp : DriftStatus.Ok, drift.Status);
            Assert.Equal(DriftSeries.Features, drift.Features.Select(f => f.Name));
            Assert.Equal(ReferenceProfile.PredictionName, drift.Prediction!.Name);
            FeatureDrift[] expected = DriftSeries.Recount(Profile, walk, upTo, Window);
            SeriesDrift[] actual = AllSeries(drift);
            for (int s = 0; s < expected.Length; s++)
            {
                AssertEqual(expected[s], actual[s]);
            }
            Assert.Equal(upTo, drift.Quality.Bars);
        }
    }

    [Fact]
    public async Task A_walk_more_volatile_than_the_reference_drifts_and_one_like_it_does_not()
    {
        var (calm, _) = await Asset("v1");
        var (wild, _) = await Asset("v1");
        await Feed(calm, DriftSeries.Walk(seed: 3, count: 300, sigma: 0.01), 0, 300);
        await Feed(wild, DriftSeries.Walk(seed: 3, count: 300, sigma: 0.03), 0, 300);

        AssetDrift calmDrift = await calm.GetDrift();
        Assert.Equal(DriftStatus.Ok, calmDrift.Status);
        Assert.False(calmDrift.Drifting);
        Assert.All(AllSeries(calmDrift), s => Assert.False(s.Drifting, $"{s.Name}: p = {s.PValue}, PSI = {s.Psi}"));

        AssetDrift wildDrift = await wild.GetDrift();
        Assert.Equal(DriftStatus.Ok, wildDrift.Status);
        Assert.True(wildDrift.Drifting);
        Assert.All(wildDrift.Features, s => Assert.True(s.Drifting, $"{s.Name}: p = {s.PValue}, PSI = {s.Psi}"));
        Assert.All(wildDrift.Features, s => Assert.True(s.Psi > 0.5, $"{s.Name}: PSI = {s.Psi}"));
    }

    [Fact]
    public async Task An_asset_without_a_model_or_whose_version_has_no_reference_reports_no_statistics()
    {
        IAssetGrain none = fixture.Grains.GetGrain<IAssetGrain>($"drift-{Guid.NewGuid():N}");
        await Feed(none, DriftSeries.Walk(seed: 4, count: 50, sigma: 0.01), 0, 50);
        AssetDrift noModel = await none.GetDrift();
        Assert.Equal(DriftStatus.NoModel, noModel.Status);
        Assert.Null(noModel.Model);
        Assert.Empty(noModel.Features);
        Assert.Null(noModel.Prediction);
        Assert.Null(noModel.Concept);

        var (grain, _) = await Asset("bare");
        await Feed(grain, DriftSeries.Walk(seed: 4, count: 150, sigma: 0.01), 0, 150);
        AssetDrift drift = await grain.GetDrift();
        Assert.Equal(DriftStatus.NoReference, drift.Status);
        Assert.Equal(new ModelRef("walk", "bare"), drift.Model);
        Assert.Equal(0, drift.Count);
        Assert.Empty(drift.Features);
        Assert.Null(drift.Prediction);
    }

    [Fact]
    public async Task An_asset_with_no_bars_is_not_found()
    {
        var e = await Assert.ThrowsAsync<GridException>(() => fixture.Grains.GetGrain<IAssetGrain>($"drift-{Guid.NewGuid():N}").GetDrift());
        Assert.Equal(GridErrorKind.NotFound, e.Kind);
    }

    [Fact]
    public async Task Rejected_bars_are_counted_by_reason()
    {
        var (grain, _) = await Asset("v1");
        BarData[] bars = DriftSeries.Bars(DriftSeries.Walk(seed: 5, count: 20, sigma: 0.01), 0, 20);
        await grain.AddBars(bars[5..10]);
        // Between two accepted bars and never accepted itself: out of order (one before the history would be ignored).
        IngestResult result = await grain.AddBars([bars[7] with { Timestamp = bars[7].Timestamp + 30_000 }, bars[10] with { High = bars[10].Low / 2 }, bars[11] with { Volume = -1 }, bars[12]]);
        Assert.True(result.Rejected == 3, string.Join("; ", result.Reasons));
        DataQuality quality = (await grain.GetDrift()).Quality;
        Assert.Equal(6, quality.Bars);
        Assert.Equal(3, quality.Rejected);
        Assert.Equal(new Dictionary<string, long> { ["out-of-order"] = 1, ["invalid-high"] = 1, ["invalid-volume"] = 1 },
            quality.RejectedByReason.OrderBy(r => r.Key).ToDictionary());
    }

    [Fact]
    public async Task Live_hits_far_below_the_validation_accuracy_read_as_concept_drift()
    {
        // The lineage claims 50% accuracy; the live scores are whatever the walk gives, tested one-sided against it.
        var (grain, _) = await Asset("v1");
        await Feed(grain, DriftSeries.Walk(seed: 6, count: 200, sigma: 0.01), 0, 200);
        ConceptDrift concept = (await grain.GetDrift()).Concept!;
        ModelScores scores = await grain.GetScores();
        OutcomeTally tally = scores.Versions.Single(t => t.Model == new ModelRef("walk", "v1"));
        Assert.Equal(tally.Outcomes, concept.Outcomes);
        Assert.Equal(199, concept.Outcomes);
        Assert.Equal((double)tally.Hits / tally.Outcomes, concept.LiveAccuracy);
        Assert.Equal(tally.LogLossSum / tally.Outcomes, concept.LiveLogLoss);
        Assert.Equal(0.5, concept.ValidationAccuracy);
        Assert.Equal(0.69, concept.ValidationLogLoss);
        Assert.Equal(Training.Statistics.Binomial.Cdf(tally.Hits, tally.Outcomes, 0.5), concept.PValue);
        Assert.Equal(concept.PValue < 0.01, concept.Decayed);
    }

    [Fact]
    public async Task The_store_holds_each_assets_window_counts_as_the_grain_counts_them()
    {
        var (grain, name) = await Asset("v1");
        BarSeries walk = DriftSeries.Walk(seed: 7, count: 180, sigma: 0.01);
        await Feed(grain, walk, 0, 180);
        AssetDrift live = await grain.GetDrift();
        // A flush during the feed stored an earlier window; the one after the last bar stores the grain's window now.
        DriftCounts? stored = null;
        AssetDrift? evaluated = null;
        for (int i = 0; i < 200 && !(evaluated is not null && DriftSeries.Agree(live.Features, evaluated.Features)); i++)
        {
            await Task.Delay(50);
            stored = (await DriftCluster.Store.Read("walk")).SingleOrDefault(w => w.Asset == name);
            evaluated = stored is null ? null : Drift.DriftScanner.Evaluate(stored, Profile, 0.01);
        }
        Assert.NotNull(stored);
        Assert.Equal(new ModelRef("walk", "v1"), stored.Model);
        Assert.Equal(Window, stored.Window);
        Assert.Equal(Window, stored.Count);
        Assert.True(DriftSeries.Agree([.. live.Features, live.Prediction!], [.. evaluated!.Features, evaluated.Prediction!]),
            $"the grain's {string.Join("; ", live.Features)} against the stored window's {string.Join("; ", evaluated.Features)}");
        FeatureDrift[] recount = DriftSeries.Recount(Profile, walk, 180, Window);
        Assert.Equal(recount[0].Count, evaluated.Features[0].Count);
        Assert.Equal(recount[0].Psi, evaluated.Features[0].Psi, 1e-12);
    }
}

/// <summary>The asset grain's bar quality: what the quality detectors find in its accepted bars, built to have a gap, a stale run and a spike.</summary>
public sealed class BarQualityInGrainTests(DriftTrackingTests.DriftCluster fixture) : IClassFixture<DriftTrackingTests.DriftCluster>
{
    // A calm walk of one-minute bars, then bars 100-104 left out (a gap), closes 150-157 all equal (a stale run), and
    // bar 180's close half again above its neighbours (a spike the next bar takes back).
    private static BarData[] Flawed()
    {
        BarData[] bars = DriftSeries.Bars(DriftSeries.Walk(seed: 8, count: 200, sigma: 0.001), 0, 200);
        static BarData Flat(BarData bar, double close) => bar with { Open = close, High = close, Low = close, Close = close };
        double stale = bars[150].Close;
        for (int i = 150; i < 158; i++)
        {
            bars[i] = Flat(bars[i], stale);
        }
        bars[180] = Flat(bars[180], bars[179].Close * 1.5);
        bars[181] = Flat(bars[181], bars[179].Close);
        return [.. bars[..100], .. bars[105..]];
    }

    [Fact]
    public async Task The_grain_reports_the_gap_the_stale_run_and_the_spike_as_the_detectors_find_them()
    {
        IAssetGrain grain = fixture.Grains.GetGrain<IAssetGrain>($"quality-{Guid.NewGuid():N}");
        BarData[] bars = Flawed();
        foreach (BarData[] chunk in bars.Chunk(40))
        {
            Assert.Equal(0, (await grain.AddBars(chunk)).Rejected);
        }
        var detectors = new Features.Quality.BarQuality(new Features.Quality.BarQualityOptions());
        foreach (BarData bar in bars)
        {
            detectors.Observe(bar.Timestamp, bar.Close);
        }
        Features.Quality.BarQualityReport expected = detectors.Snapshot();

        DataQuality quality = (await grain.GetDrift()).Quality;
        Assert.Equal((1L, 1L, 1L), (quality.Gaps, quality.StaleRuns, quality.Spikes));
        Assert.Equal((expected.Bars, expected.UsualIntervalMs, expected.Gaps, expected.StaleRuns, expected.CurrentStaleBars, expected.Spikes),
            (quality.Bars, quality.UsualIntervalMs, quality.Gaps, quality.StaleRuns, quality.CurrentStaleBars, quality.Spikes));
        Assert.Equal(60_000, quality.UsualIntervalMs);
        Assert.Equal(expected.Recent.Select(f => f.Kind), quality.Findings.Select(f => f[..f.IndexOf(' ', StringComparison.Ordinal)]));
        Assert.Equal(expected.Recent.Select(f => f.Detail), quality.Findings.Select(f => f[(f.IndexOf(": ", StringComparison.Ordinal) + 2)..]));
    }
}

/// <summary>The drift events every silo hears: raised when an asset starts drifting, cleared when it stops (its bars come back to the reference, or it serves another version).</summary>
public sealed class DriftEventTests(DriftTrackingTests.DriftCluster fixture) : IClassFixture<DriftTrackingTests.DriftCluster>
{
    [Fact]
    public async Task An_asset_that_starts_drifting_raises_an_event_and_clears_it_when_it_serves_another_version()
    {
        var (events, listening, asset, name) = await ListenToNewAsset("events");
        using IDisposable _ = listening;
        BarSeries walk = DriftSeries.Walk(seed: 9, count: 300, sigma: 0.03);
        await asset.AddBars(DriftSeries.Bars(walk, 0, 200));
        ModelAuditRecord raised = await Next(events, name, DriftEvents.Raised);
        Assert.Equal(("walk", "v1"), (raised.Name, raised.Version));
        Assert.Equal(0, raised.Sequence);

        await asset.AssignModel(new ModelRef("walk", "bare"));
        await asset.AddBars(DriftSeries.Bars(walk, 200, 10));
        ModelAuditRecord cleared = await Next(events, name, DriftEvents.Cleared);
        Assert.Equal("v1", cleared.Version);
    }

    [Fact]
    public async Task An_asset_whose_bars_calm_down_to_the_reference_clears_its_alarm_for_the_same_version()
    {
        var (events, listening, asset, name) = await ListenToNewAsset("calming");
        using IDisposable _ = listening;
        // Three times the reference's volatility for 200 bars, then the reference's own for 300: the window of 100 bars
        // is wholly calm again from bar 300 on.
        BarSeries walk = DriftSeries.Walk(seed: 11, count: 500, sigma: i => i < 200 ? 0.03 : 0.01);
        await asset.AddBars(DriftSeries.Bars(walk, 0, 200));
        ModelAuditRecord raised = await Next(events, name, DriftEvents.Raised);
        Assert.Equal(("walk", "v1"), (raised.Name, raised.Version));

        for (int at = 200; at < 500; at += 50)
        {
            await asset.AddBars(DriftSeries.Bars(walk, at, 50));
        }
        ModelAuditRecord cleared = await Next(events, name, DriftEvents.Cleared);
        Assert.Equal(("walk", "v1"), (cleared.Name, cleared.Version));
        Assert.Contains("\"series\":[]", cleared.Detail, StringComparison.Ordinal);
        ModelAuditRecord[] heard = [.. events];
        Assert.True(Array.IndexOf(heard, raised) < Array.IndexOf(heard, cleared), "the alarm was cleared before it was raised");

        // The asset still serves v1 and its calm window is judged not drifting.
        AssetDrift now = await asset.GetDrift();
        Assert.Equal(new ModelRef("walk", "v1"), now.Model);
        Assert.Equal(DriftStatus.Ok, now.Status);
        Assert.False(now.Drifting, string.Join(", ", now.Features.Select(f => $"{f.Name}: p = {f.PValue}")));
    }

    // The silo's model events from now on (until the listening is disposed), and a new asset serving walk v1.
    private async Task<(System.Collections.Concurrent.ConcurrentQueue<ModelAuditRecord> Events, IDisposable Listening, IAssetGrain Asset, string Name)> ListenToNewAsset(string prefix)
    {
        var events = new System.Collections.Concurrent.ConcurrentQueue<ModelAuditRecord>();
        var silo = (InProcessSiloHandle)fixture.Cluster.Primary!;
        IDisposable listening = silo.SiloHost.Services.GetRequiredService<SiloModelEvents>().Listen(e => events.Enqueue(e.Change));
        string name = $"{prefix}-{Guid.NewGuid():N}";
        IAssetGrain asset = fixture.Grains.GetGrain<IAssetGrain>(name);
        await asset.AssignModel(new ModelRef("walk", "v1"));
        return (events, listening, asset, name);
    }

    // The first event of this action about this asset, waiting up to 30 s (events are one way, so they arrive after the call).
    private static async Task<ModelAuditRecord> Next(System.Collections.Concurrent.ConcurrentQueue<ModelAuditRecord> events, string asset, string action)
    {
        for (int i = 0; i < 600; i++)
        {
            ModelAuditRecord? found = events.FirstOrDefault(e => e.Action == action && e.Detail.Contains($"\"asset\":\"{asset}\"", StringComparison.Ordinal));
            if (found is not null)
            {
                return found;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"no {action} event for {asset} within 30 s");
    }
}
