using System.Collections.Concurrent;
using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Features;
using MarketIntel.Grains.Placement;
using MarketIntel.Grains.Retraining;
using MarketIntel.Grains.Retraining.Triggers;
using MarketIntel.Tests;
using MarketIntel.Training.Drift;
using MarketIntel.Training.Statistics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.TestingHost;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// What the trigger tests' silos share, in this process: the drift windows, the score totals and the job records the
/// tests write, as asset grains and coordinators write them, and the requests the recording triggers saw.
/// </summary>
internal static class TriggerStores
{
    public static readonly InMemoryDriftStore Drift = new();
    public static readonly InMemoryScoreStore Scores = new();
    public static readonly InMemoryRetrainJobStore Jobs = new();
    public static readonly RecordingRetrainTriggers Triggers = new();
}

/// <summary>
/// Sets up a trigger test's silo: the first a serving silo, the rest workers, on <see cref="TriggerStores"/>, with
/// Grid:Retraining:Triggers:Drift <paramref name="drift"/>. Drift asks for two drifting assets, score decay judges
/// direction models below 0.5 and return models above a mean squared error of 0.0004 on 100 outcomes, and 500 new bars
/// ask for a job. Requests go to the recording triggers or, with <paramref name="stream"/>, on the grid's own trigger
/// stream to the coordinators (<see cref="CoordinatorCalls"/> records what reaches them).
/// </summary>
public abstract class TriggerSilo(bool drift, bool stream) : ISiloConfigurator
{
    public void Configure(ISiloBuilder siloBuilder)
    {
        SiloRole role = siloBuilder.Configuration["Orleans:Name"] == "Primary" ? SiloRole.Serving : SiloRole.Worker;
        siloBuilder.Services.Configure<DriftTriggerOptions>(o => o.Drift = drift);
        siloBuilder.Services.AddSingleton<IDriftStore>(TriggerStores.Drift);
        siloBuilder.Services.AddSingleton<IScoreStore>(TriggerStores.Scores);
        siloBuilder.Services.AddSingleton<IRetrainJobStore>(TriggerStores.Jobs);
        if (stream)
        {
            siloBuilder.AddIncomingGrainCallFilter<CoordinatorCalls>();
        }
        else
        {
            siloBuilder.Services.AddSingleton<IRetrainTriggers>(TriggerStores.Triggers);
        }
        siloBuilder.AddMarketIntelGrid(o => o.Features = "sma_5", role: role);
        siloBuilder.Services.Configure<RetrainTriggerOptions>(o =>
        {
            o.DriftingAssets = 2;
            o.ScoreDecay.Below = 0.5;
            o.ScoreDecay.ErrorAbove = 0.0004;
            o.ScoreDecay.MinOutcomes = 100;
            o.BarVolume = 500;
        });
    }
}

/// <summary>Drift asks; requests are recorded.</summary>
public sealed class RecordingSilo() : TriggerSilo(drift: true, stream: false);

/// <summary>Drift is off; requests are recorded.</summary>
public sealed class DriftOffSilo() : TriggerSilo(drift: false, stream: false);

/// <summary>Drift asks; requests go by the trigger stream.</summary>
public sealed class StreamSilo() : TriggerSilo(drift: true, stream: true);

/// <summary>A serving and a worker silo set up by <typeparamref name="TSilo"/>, and the watch's checks in them.</summary>
public abstract class TriggerCluster<TSilo>() : ConfiguredCluster<TSilo>(2)
    where TSilo : TriggerSilo, new()
{
    private long _interval;

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>The start of an interval later than any the watch has checked (one a minute from 1 January 2026).</summary>
    public long NextInterval() => 1_767_225_600_000 + (Interlocked.Increment(ref _interval) * 60_000);

    /// <summary>The watch's check of a new interval (once the silos know each other's roles).</summary>
    public async Task<RetrainWatchReport> Check()
    {
        long interval = NextInterval();
        RetrainWatchReport? report = await RoleCluster.OnceRolesAreKnown(() => Grains.GetGrain<IRetrainWatchGrain>(0).Check(interval));
        Assert.NotNull(report);
        Assert.Equal(interval, report.Interval);
        return report;
    }
}

/// <summary>The requests go to the recording triggers; drift asks.</summary>
public sealed class TriggerCluster : TriggerCluster<RecordingSilo>;

/// <summary>The same with Grid:Retraining:Triggers:Drift off.</summary>
public sealed class DriftOffTriggerCluster : TriggerCluster<DriftOffSilo>;

/// <summary>The same with the grid's own trigger stream, coordinator and job grain.</summary>
public sealed class StreamTriggerCluster : TriggerCluster<StreamSilo>;

/// <summary>
/// The retraining watch on a worker silo: the drift scan, score decay and bar volume each ask for a job through
/// <see cref="IRetrainTriggers"/> when their condition holds, with the figures in the reason, and not otherwise.
/// </summary>
public sealed class RetrainTriggerTests(TriggerCluster fixture, DriftOffTriggerCluster driftOff) : IClassFixture<TriggerCluster>, IClassFixture<DriftOffTriggerCluster>
{
    private const int WindowLength = 100;

    private static readonly BarSeries Reference = DriftSeries.Walk(seed: 1, count: 4000, sigma: 0.01);

    private static readonly ReferenceProfile Profile = DriftSeries.Profile(Reference);

    private IModelRegistryGrain Registry => fixture.Grains.GetGrain<IModelRegistryGrain>(0);

    private Task Register(string name, string version, string? alias = null) => Register(fixture.Grains, name, version, alias);

    private static async Task Register(IGrainFactory grains, string name, string version, string? alias)
    {
        byte[] bytes = DriftSeries.Model(out var model);
        model.Dispose();
        await grains.GetGrain<IModelRegistryGrain>(0).Register(new ModelRegistration(name, version, bytes, DriftSeries.Lineage(Profile), null, alias, "test"));
    }

    // The requests the watch sent for model `name` in a check, as the report and the triggers both saw them.
    private static IReadOnlyList<RetrainRequest> SentFor(RetrainWatchReport report, string name)
    {
        RetrainRequest[] sent = [.. report.Sent.Where(r => r.Name == name)];
        Assert.All(sent, r => Assert.Contains(r, TriggerStores.Triggers.Sent));
        return sent;
    }

    // What an asset grain stores for a window of the last `WindowLength` bars of `walk` on `version`, and each series' statistics on it.
    private static (DriftCounts Counts, FeatureDrift[] Drift) Window(string asset, ModelRef version, BarSeries walk)
    {
        var (columns, predictions) = DriftSeries.Rows(walk);
        float[][] series = [.. columns, predictions];
        FeatureReference[] references = [.. Profile.Features, Profile.Prediction!];
        var stored = new SeriesCounts[references.Length];
        var drift = new FeatureDrift[references.Length];
        for (int s = 0; s < references.Length; s++)
        {
            var counts = new int[references[s].Bins];
            int missing = 0;
            for (int row = walk.Count - WindowLength; row < walk.Count; row++)
            {
                int bin = references[s].Bin(series[s][row]);
                if (bin < 0)
                {
                    missing++;
                }
                else
                {
                    counts[bin]++;
                }
            }
            stored[s] = new SeriesCounts(references[s].Name, counts, missing);
            drift[s] = DriftStatistics.Compare(references[s], counts, missing);
        }
        return (new DriftCounts(asset, version, WindowLength, WindowLength, stored), drift);
    }

    // The series Benjamini-Hochberg flags at the grid's alpha, with their names, and the largest PSI among them.
    private static (string[] Names, double WorstPsi) Flagged(FeatureDrift[] drift)
    {
        string[] names = [.. Profile.Features.Select(f => f.Name), Profile.Prediction!.Name];
        var rejected = new bool[drift.Length];
        BenjaminiHochberg.Reject([.. drift.Select(d => d.PValue)], new GridOptions().Drift.Alpha, rejected);
        int[] flagged = [.. Enumerable.Range(0, drift.Length).Where(s => rejected[s])];
        return ([.. flagged.Select(s => names[s])], flagged.Length == 0 ? double.NaN : flagged.Max(s => drift[s].Psi));
    }

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task The_drift_scan_asks_for_a_job_naming_the_drifting_assets_once_enough_of_them_drift()
    {
        const string name = "trig-drift";
        await Register(name, "v1", alias: "champion");
        var v1 = new ModelRef(name, "v1");
        string calm = $"CALM-{Guid.NewGuid():N}", wild = $"WILD-{Guid.NewGuid():N}", wilder = $"WILDER-{Guid.NewGuid():N}";
        var (calmWindow, calmDrift) = Window(calm, v1, DriftSeries.Walk(seed: 3, count: 300, sigma: 0.01));
        var (wildWindow, wildDrift) = Window(wild, v1, DriftSeries.Walk(seed: 3, count: 300, sigma: 0.03));
        var (wilderWindow, wilderDrift) = Window(wilder, v1, DriftSeries.Walk(seed: 4, count: 300, sigma: 0.04));
        Assert.Empty(Flagged(calmDrift).Names);
        await TriggerStores.Drift.Save(calmWindow);
        await TriggerStores.Drift.Save(wildWindow);

        // One drifting asset of two judged: fewer than the two the cluster asks for.
        Assert.Empty(SentFor(await fixture.Check(), name));

        await TriggerStores.Drift.Save(wilderWindow);
        RetrainRequest request = Assert.Single(SentFor(await fixture.Check(), name));

        Assert.Equal(RetrainTrigger.Drift, request.Trigger);
        Assert.Equal(RetrainWatchGrain.Client, request.Client);
        Assert.Null(request.Assets);
        Assert.StartsWith("drift scan: 2 of 3 assets drifting (at least 2 asked for a job): ", request.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(calm, request.Reason, StringComparison.Ordinal);
        foreach (var (asset, drift) in new[] { (wild, wildDrift), (wilder, wilderDrift) })
        {
            var (series, worst) = Flagged(drift);
            Assert.NotEmpty(series);
            Assert.Contains(Text($"{asset} on v1 ({string.Join(", ", series)}; worst PSI {worst:0.###})"), request.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task With_the_drift_trigger_off_the_scan_asks_for_nothing()
    {
        const string name = "trig-drift-off";
        await Register(driftOff.Grains, name, "v1", "champion");
        var v1 = new ModelRef(name, "v1");
        foreach (int seed in new[] { 5, 6 })
        {
            var (window, drift) = Window($"OFF{seed}-{Guid.NewGuid():N}", v1, DriftSeries.Walk(seed, count: 300, sigma: 0.03));
            Assert.NotEmpty(Flagged(drift).Names);
            await TriggerStores.Drift.Save(window);
        }
        RetrainWatchReport report = await driftOff.Check();
        Assert.DoesNotContain(report.Sent, r => r.Name == name);
        Assert.DoesNotContain(TriggerStores.Triggers.Sent, r => r.Name == name);
    }

    [Fact]
    public async Task Score_decay_asks_for_a_job_when_the_served_versions_accuracy_since_it_began_serving_falls_below_the_threshold()
    {
        const string name = "trig-decay";
        await Register(name, "v1", alias: "champion");
        string asset = $"DECAY-{Guid.NewGuid():N}";
        // Served long before the watch first looks, and good then: only what comes after counts.
        await SaveTally(asset, name, "v1", LabelKind.Direction, outcomes: 1000, hits: 900);
        Assert.Empty(SentFor(await fixture.Check(), name));

        // 80 outcomes, 30 hits since: below 0.5, but fewer than the 100 outcomes judged.
        await SaveTally(asset, name, "v1", LabelKind.Direction, outcomes: 1080, hits: 930);
        Assert.Empty(SentFor(await fixture.Check(), name));

        // 200 outcomes, 80 hits since: 0.4.
        await SaveTally(asset, name, "v1", LabelKind.Direction, outcomes: 1200, hits: 980);
        RetrainRequest request = Assert.Single(SentFor(await fixture.Check(), name));
        Assert.Equal(RetrainTrigger.ScoreDecay, request.Trigger);
        Assert.Equal("score decay: version v1 accuracy 0.4000 below 0.5 on 200 outcomes since it began serving", request.Reason);

        // 200 more at 0.75: 230 hits of 400 since it began serving, 0.575.
        await SaveTally(asset, name, "v1", LabelKind.Direction, outcomes: 1400, hits: 1130);
        Assert.Empty(SentFor(await fixture.Check(), name));
    }

    [Fact]
    public async Task A_promoted_shadows_trial_outcomes_do_not_count_as_decay()
    {
        const string name = "trig-promoted";
        await Register(name, "v1", alias: "champion");
        await Register(name, "v2");
        await Registry.SetShadow(new ModelRef(name, "v2"), true, "test");
        string asset = $"PROMOTED-{Guid.NewGuid():N}";
        await SaveTally(asset, name, "v1", LabelKind.Direction, outcomes: 100, hits: 60);
        await SaveTally(asset, name, "v2", LabelKind.Direction, outcomes: 100, hits: 30);
        Assert.Empty(SentFor(await fixture.Check(), name));

        // The shadow did badly on its trial (300 of 1000), yet it is promoted.
        await SaveTally(asset, name, "v2", LabelKind.Direction, outcomes: 1000, hits: 300);
        Assert.Empty(SentFor(await fixture.Check(), name));
        await Registry.SetAlias(name, "champion", "v2", "test");
        Assert.Empty(SentFor(await fixture.Check(), name));

        // Serving, it hits 150 of 200: its whole tally (450 of 1200) is below 0.5, its service is not.
        await SaveTally(asset, name, "v2", LabelKind.Direction, outcomes: 1200, hits: 450);
        Assert.Empty(SentFor(await fixture.Check(), name));

        // 300 more with 30 hits: 180 of 500 since it began serving.
        await SaveTally(asset, name, "v2", LabelKind.Direction, outcomes: 1500, hits: 480);
        RetrainRequest request = Assert.Single(SentFor(await fixture.Check(), name));
        Assert.Equal(RetrainTrigger.ScoreDecay, request.Trigger);
        Assert.Equal("score decay: version v2 accuracy 0.3600 below 0.5 on 500 outcomes since it began serving", request.Reason);
    }

    [Fact]
    public async Task Score_decay_judges_the_version_a_job_would_replace_not_one_another_alias_serves()
    {
        const string name = "trig-canary";
        await Register(name, "v1", alias: "champion");
        await Register(name, "v2", alias: "canary");
        string asset = $"CANARY-{Guid.NewGuid():N}";
        Assert.Empty(SentFor(await fixture.Check(), name));

        // The canary's 0.2 on 200 outcomes asks for nothing: a job would retrain the champion, which does well.
        await SaveTally(asset, name, "v1", LabelKind.Direction, outcomes: 200, hits: 150);
        await SaveTally(asset, name, "v2", LabelKind.Direction, outcomes: 200, hits: 40);
        Assert.Empty(SentFor(await fixture.Check(), name));

        await SaveTally(asset, name, "v1", LabelKind.Direction, outcomes: 400, hits: 190);
        RetrainRequest request = Assert.Single(SentFor(await fixture.Check(), name));
        Assert.Equal("score decay: version v1 accuracy 0.4750 below 0.5 on 400 outcomes since it began serving", request.Reason);
    }

    [Fact]
    public async Task Score_decay_of_a_return_model_is_its_mean_squared_error_above_the_ceiling()
    {
        const string name = "trig-returns";
        await Register(name, "v1", alias: "champion");
        string asset = $"RETURNS-{Guid.NewGuid():N}";
        Assert.Empty(SentFor(await fixture.Check(), name));

        await SaveTally(asset, name, "v1", LabelKind.LogReturn, outcomes: 300, hits: 290, squaredError: 0.09);
        Assert.Empty(SentFor(await fixture.Check(), name));  // 0.0003: below the ceiling, however many hits

        await SaveTally(asset, name, "v1", LabelKind.LogReturn, outcomes: 500, hits: 490, squaredError: 0.25);
        RetrainRequest request = Assert.Single(SentFor(await fixture.Check(), name));
        Assert.Equal(RetrainTrigger.ScoreDecay, request.Trigger);
        Assert.Equal("score decay: version v1 mean squared error 0.0005 above 0.0004 on 500 outcomes since it began serving", request.Reason);
    }

    [Fact]
    public async Task Bar_volume_asks_for_a_job_once_the_served_versions_outcomes_grew_by_the_volume_since_the_last_job()
    {
        const string name = "trig-volume";
        await Register(name, "v1", alias: "champion");
        await Register(name, "v2");
        await Registry.SetShadow(new ModelRef(name, "v2"), true, "test");
        string asset = $"VOLUME-{Guid.NewGuid():N}";
        // Accuracies of 0.9: score decay stays quiet throughout.
        async Task Scored(long served, long shadow)
        {
            await SaveTally(asset, name, "v1", LabelKind.Direction, served, served * 9 / 10);
            await SaveTally(asset, name, "v2", LabelKind.Direction, shadow, shadow * 9 / 10);
        }

        await Scored(100, 0);
        RetrainWatchReport first = await fixture.Check();
        Assert.Empty(SentFor(first, name));

        // 300 new bars; the shadow's 5000 outcomes are the same bars or none, and count for nothing.
        await Scored(400, 5000);
        Assert.Empty(SentFor(await fixture.Check(), name));

        await Scored(700, 5300);
        RetrainRequest request = Assert.Single(SentFor(await fixture.Check(), name));
        Assert.Equal(RetrainTrigger.BarVolume, request.Trigger);
        Assert.StartsWith("bar volume: 600 new bars since ", request.Reason, StringComparison.Ordinal);
        Assert.EndsWith(", when the watch began counting (at least 500 asked for a job)", request.Reason, StringComparison.Ordinal);

        // A job starts: the count starts again, and while the job runs nothing is asked.
        RetrainJob job = Job(name, "job-volume-1", RetrainJobState.Running);
        await TriggerStores.Jobs.Save(job);
        await Scored(800, 5400);
        RetrainWatchReport running = await fixture.Check();
        Assert.Empty(SentFor(running, name));
        await Scored(1400, 6000);
        running = await fixture.Check();
        Assert.Empty(SentFor(running, name));
        Assert.Contains($"{name}: BarVolume held back, job job-volume-1 is running", running.Held);

        // Done: the bars since it began count (600 while it ran, 50 since), and ask again.
        await TriggerStores.Jobs.Save(job with { State = RetrainJobState.Registered });
        await Scored(1450, 6050);
        request = Assert.Single(SentFor(await fixture.Check(), name));
        Assert.Equal(RetrainTrigger.BarVolume, request.Trigger);
        Assert.StartsWith("bar volume: 650 new bars since job job-volume-1 (counted from ", request.Reason, StringComparison.Ordinal);
        Assert.EndsWith("; at least 500 asked for a job)", request.Reason, StringComparison.Ordinal);
    }

    private static RetrainJob Job(string name, string id, RetrainJobState state)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        return new RetrainJob(id, new RetrainRequest(name, RetrainTrigger.Manual, "test", "test"), state, "", RetrainProgress.None, "v1", null, 1, null, now, now, now, null);
    }

    private static Task SaveTally(string asset, string name, string version, LabelKind kind, long outcomes, long hits, double squaredError = 0) =>
        TriggerStores.Scores.Save(asset, new ModelScores(
            [new OutcomeTally { Model = new ModelRef(name, version), Kind = kind, Horizon = 1, Outcomes = outcomes, Hits = hits, SquaredErrorSum = squaredError }], []));
}

/// <summary>Each silo's ticker: it asks the watch to check the current interval, and with no worker it waits quietly.</summary>
public sealed class RetrainWatchTickerTests(TriggerCluster withWorker, ServingOnlyCluster servingOnly)
    : IClassFixture<TriggerCluster>, IClassFixture<ServingOnlyCluster>
{
    private sealed class RecordingLogger : ILogger<RetrainWatchTicker>
    {
        public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue((logLevel, formatter(state, exception)));
    }

    private static RetrainWatchTicker Ticker(IGrainFactory grains, RecordingLogger log) =>
        new(grains, Options.Create(new RetrainTriggerOptions()), TimeProvider.System, log);

    [Fact]
    public async Task With_no_worker_silo_the_ask_is_skipped_and_logged_once()
    {
        var log = new RecordingLogger();
        using RetrainWatchTicker ticker = Ticker(servingOnly.Grains, log);
        for (long interval = 60_000; interval <= 180_000; interval += 60_000)
        {
            Assert.Null(await ticker.Ask(interval));
        }
        var entry = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.Contains("waits for a worker silo", entry.Message, StringComparison.Ordinal);
        Assert.Contains("no worker silo in the cluster", entry.Message, StringComparison.Ordinal);
        var activations = await servingOnly.Cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        Assert.DoesNotContain(activations, a => a.GrainType.Contains(nameof(RetrainWatchGrain), StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_a_worker_the_watch_runs_there_once_per_interval()
    {
        var log = new RecordingLogger();
        using RetrainWatchTicker ticker = Ticker(withWorker.Grains, log);
        long interval = withWorker.NextInterval();
        RetrainWatchReport? report = await RoleCluster.OnceRolesAreKnown(() => ticker.Ask(interval));
        Assert.NotNull(report);
        Assert.Equal(interval, report.Interval);
        Assert.Null(await ticker.Ask(interval));           // the same interval, asked by another silo
        Assert.Null(await ticker.Ask(interval - 60_000));  // an earlier one, from a silo whose clock is behind
        Assert.Empty(log.Entries);
        var activations = await withWorker.Cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var watch = Assert.Single(activations, a => a.GrainType.Contains(nameof(RetrainWatchGrain), StringComparison.Ordinal));
        Assert.Equal(withWorker.Cluster.Silos[1].SiloAddress, watch.SiloAddress);
    }
}

/// <summary>Grid:Retraining:Triggers: what is on by default, and every setting out of range refused by name.</summary>
public sealed class RetrainTriggerOptionsTests
{
    [Fact]
    public void By_default_the_drift_scan_runs_every_five_minutes_on_one_drifting_asset_and_score_decay_and_bar_volume_are_off()
    {
        var options = new RetrainTriggerOptions();
        Assert.Equal(TimeSpan.FromMinutes(5), options.ScanEvery);
        Assert.Equal(1, options.DriftingAssets);
        Assert.Null(options.ScoreDecay.Below);
        Assert.Null(options.ScoreDecay.ErrorAbove);
        Assert.Equal(0, options.BarVolume);
        Assert.True(new RetrainTriggerOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void Settings_out_of_range_are_refused_by_name()
    {
        var options = new RetrainTriggerOptions
        {
            ScanEvery = TimeSpan.FromMilliseconds(500),
            DriftingAssets = 0,
            BarVolume = -1,
            ScoreDecay = new ScoreDecayOptions { Below = 1.5, ErrorAbove = double.NaN, MinOutcomes = 0 },
        };
        var result = new RetrainTriggerOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Equal(
        [
            "Grid:Retraining:Triggers:ScanEvery 00:00:00.5000000 must be between 00:00:01 and 1.00:00:00",
            "Grid:Retraining:Triggers:DriftingAssets 0 must be at least 1",
            "Grid:Retraining:Triggers:BarVolume -1 must be 0 (off) or a number of bars",
            "Grid:Retraining:Triggers:ScoreDecay:Below 1.5 must be an accuracy above 0 and at most 1",
            "Grid:Retraining:Triggers:ScoreDecay:ErrorAbove NaN must be a mean squared error above 0",
            "Grid:Retraining:Triggers:ScoreDecay:MinOutcomes 0 must be at least 1",
        ], result.Failures);
    }

    [Fact]
    public void Options_are_bound_from_Grid_Retraining_Triggers_and_bad_ones_are_named()
    {
        RetrainTriggerOptions Bound(Dictionary<string, string?> settings)
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
            var services = new ServiceCollection();
            services.AddMarketIntelRetrainTriggers(o => o.Bind(configuration.GetSection(RetrainTriggerOptions.Section)));
            return services.BuildServiceProvider().GetRequiredService<IOptions<RetrainTriggerOptions>>().Value;
        }
        RetrainTriggerOptions bound = Bound(new()
        {
            ["Grid:Retraining:Triggers:ScanEvery"] = "00:01:00", ["Grid:Retraining:Triggers:DriftingAssets"] = "3",
            ["Grid:Retraining:Triggers:ScoreDecay:Below"] = "0.52", ["Grid:Retraining:Triggers:ScoreDecay:MinOutcomes"] = "2000",
            ["Grid:Retraining:Triggers:BarVolume"] = "100000",
        });
        Assert.Equal((TimeSpan.FromMinutes(1), 3, 0.52, (double?)null, 2000L, 100_000L),
            (bound.ScanEvery, bound.DriftingAssets, bound.ScoreDecay.Below, bound.ScoreDecay.ErrorAbove, bound.ScoreDecay.MinOutcomes, bound.BarVolume));

        var e = Assert.Throws<OptionsValidationException>(() => Bound(new() { ["Grid:Retraining:Triggers:ScoreDecay:Below"] = "0" }));
        Assert.Contains("Grid:Retraining:Triggers:ScoreDecay:Below 0 must be an accuracy above 0 and at most 1", e.Message, StringComparison.Ordinal);
    }
}

/// <summary>The watch's request on the grid's own way to a job: the trigger stream, the coordinator on the serving silo.</summary>
public sealed class WatchToCoordinatorTests(StreamTriggerCluster fixture) : IClassFixture<StreamTriggerCluster>
{
    [Fact]
    public async Task A_bar_volume_request_goes_by_the_trigger_stream_to_the_coordinator_which_starts_a_job_for_it()
    {
        const string name = "trig-e2e";
        byte[] bytes = DriftSeries.Model(out var model);
        model.Dispose();
        await fixture.Grains.GetGrain<IModelRegistryGrain>(0).Register(new ModelRegistration(name, "v1", bytes, DriftSeries.Lineage(null), null, "champion", "test"));
        async Task Scored(long outcomes) => await TriggerStores.Scores.Save("E2E", new ModelScores(
            [new OutcomeTally { Model = new ModelRef(name, "v1"), Kind = LabelKind.Direction, Horizon = 1, Outcomes = outcomes, Hits = outcomes * 9 / 10 }], []));

        await Scored(100);
        Assert.DoesNotContain((await fixture.Check()).Sent, r => r.Name == name);
        await Scored(700);
        RetrainRequest sent = Assert.Single((await fixture.Check()).Sent, r => r.Name == name);
        Assert.Equal(RetrainTrigger.BarVolume, sent.Trigger);

        var (_, received) = Assert.Single(await CoordinatorCalls.WaitFor(name));
        Assert.Equal(sent, received);
        RetrainJob job = Assert.Single(await fixture.Grains.GetGrain<IRetrainCoordinatorGrain>(name).List(10));
        Assert.Equal((RetrainTrigger.BarVolume, sent.Reason, RetrainWatchGrain.Client), (job.Request.Trigger, job.Request.Reason, job.Request.Client));

        // The watch sees the coordinator's job in the store they share: the count starts again, and 600 more bars ask nothing yet.
        await Scored(1300);
        Assert.DoesNotContain((await fixture.Check()).Sent, r => r.Name == name);
    }
}
