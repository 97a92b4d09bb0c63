using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Grains.Placement;
using MarketIntel.Grains.Retraining;
using MarketIntel.Tests;

namespace MarketIntel.Grains.Tests;

/// <summary>One silo of role all on embedded defaults: bars reach the job through the asset grains and the embedded archive.</summary>
public sealed class OneSiloRetrainCluster() : RetrainCluster([SiloRole.All], 1);

/// <summary>
/// Retraining jobs on one silo of role all, as the demo runs them: a manual request trains on the archived bars and
/// registers one challenger in shadow; the debounce holds back a second job while one is active and within the
/// minimum interval (unless forced); a cancelled job registers nothing.
/// </summary>
public sealed class RetrainingTests(OneSiloRetrainCluster fixture) : IClassFixture<OneSiloRetrainCluster>
{
    private IRetrainCoordinatorGrain Coordinator(string name) => fixture.Grains.GetGrain<IRetrainCoordinatorGrain>(name);

    private string Silo => fixture.Cluster.Primary!.SiloAddress.ToString();

    private async Task Feed(string asset, int count)
    {
        IAssetGrain grain = fixture.Grains.GetGrain<IAssetGrain>(asset);
        for (int at = 0; at < count; at += 500)
        {
            IngestResult result = await grain.AddBars(SeriesBars.Of(Retrain.Bars, at, Math.Min(500, count - at)));
            Assert.Equal(Math.Min(500, count - at), result.Accepted);
        }
    }

    // The silo's marketintel_retrain_jobs_total for one trigger and state, as a scrape reads it.
    private long JobsTotal(string trigger, string state) => (long)Measured("marketintel_retrain_jobs_total", ("trigger", trigger), ("state", state));

    // The sum of the silo's measurements of one retraining instrument whose tags include <paramref name="labels"/>, as a scrape reads them.
    private double Measured(string instrument, params (string Key, string Value)[] labels)
    {
        IMeterFactory meters = fixture.Service<IMeterFactory>(Silo);
        double total = 0;
        void Add(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            Dictionary<string, object?> measured = new(tags.ToArray());
            if (labels.All(l => measured.TryGetValue(l.Key, out object? v) && Equals(v, l.Value)))
            {
                total += value;
            }
        }
        using var listener = new MeterListener();
        listener.InstrumentPublished = (published, l) =>
        {
            if (published.Name == instrument && ReferenceEquals(published.Meter.Scope, meters))
            {
                l.EnableMeasurementEvents(published);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) => Add(value, tags));
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) => Add(value, tags));
        listener.Start();
        listener.RecordObservableInstruments();
        return total;
    }

    [Fact]
    public async Task A_manual_request_trains_on_the_archived_bars_and_registers_one_challenger_in_shadow_with_its_lineage_and_profile()
    {
        string name = $"rt-{Guid.NewGuid():N}"[..12];
        string asset = name.ToUpperInvariant();
        await Retrain.RegisterBase(fixture.Grains, name, rounds: 20, depth: 3, asset);
        await Feed(asset, 2000);
        var events = new ConcurrentQueue<ModelAuditRecord>();
        using IDisposable listening = fixture.Service<SiloModelEvents>(Silo).Listen(e =>
        {
            if (e.Change.Name == name)
            {
                events.Enqueue(e.Change);
            }
        });

        long registeredBefore = JobsTotal("manual", "registered");
        double startedBefore = Measured("marketintel_retrain_jobs_started_total", ("trigger", "manual"));
        double secondsBefore = Measured("marketintel_retrain_job_seconds_total", ("state", "registered"));
        RetrainStart start = await Coordinator(name).Request(Retrain.Manual(name));
        Assert.True(start.Started, start.Reason);
        Assert.Equal(startedBefore + 1, Measured("marketintel_retrain_jobs_started_total", ("trigger", "manual")));
        RetrainJob job = await Retrain.Until(Coordinator(name), start.Job!.Id, j => !j.IsActive, "an end");
        Assert.Equal(registeredBefore + 1, JobsTotal("manual", "registered"));
        // The job's time from acceptance to registration is added to the registered total; its start is the model's last.
        Assert.Equal((job.FinishedAt!.Value - job.CreatedAt) / 1000.0, Measured("marketintel_retrain_job_seconds_total", ("state", "registered")) - secondsBefore, precision: 3);
        Assert.Equal(job.CreatedAt / 1000.0, Measured("marketintel_retrain_last_job_start_time_seconds", ("model", name)), precision: 3);

        Assert.Equal(RetrainJobState.Registered, job.State);
        Assert.Equal(32, job.Id.Length);
        Assert.Equal(("v1", 1, Silo), (job.BaseVersion, job.Attempt, job.Worker));
        Assert.Equal(2000, job.Progress.BarsRead);
        Assert.InRange(job.Progress.Rows, 1500, 2000);
        Assert.Equal((4, 4), (job.Progress.FoldsDone, job.Progress.Folds));
        Assert.Equal((20, 20), (job.Progress.RoundsDone, job.Progress.Rounds));
        Assert.NotEmpty(job.Progress.Validation!);
        // The archive's time: the newest bar fed (from 1990s history), not the clock's.
        Assert.Equal(Retrain.Stored(1999, 1)[0].Timestamp, job.Through);
        Assert.True(job.FinishedAt >= job.CreatedAt);

        ModelVersionDetails challenger = Assert.Single(await Retrain.Tagged(fixture.Grains, name, job.Id));
        Assert.Equal(job.Version, challenger.Info.Model.Version);
        Assert.Equal("up_1", challenger.Info.Label);
        Assert.True(challenger.HasProfile);
        using (JsonDocument lineage = JsonDocument.Parse(challenger.Lineage!))
        {
            JsonElement root = lineage.RootElement;
            Assert.Equal(Retrain.Inputs, root.GetProperty("features").EnumerateArray().Select(f => f.GetString()));
            Assert.Equal("v1", root.GetProperty("replaces").GetString());
            Assert.Equal(20, root.GetProperty("profile").GetProperty("features")[0].GetProperty("counts").GetArrayLength());
            Assert.Equal([asset], root.GetProperty("data").GetProperty("assets").EnumerateArray().Select(a => a.GetString()));
        }
        ModelDeployment deployment = await fixture.Grains.GetGrain<IModelRegistryGrain>(0).GetDeployment(name);
        Assert.Equal([job.Version!], deployment.Shadows);
        Assert.Equal("v1", deployment.Aliases[RetrainJobGrain.ServedAlias].Version);

        // The model-event stream told every state, progress between, each with the job's record.
        RetrainJob[] told = [.. events.Where(e => e.Action is RetrainEvents.State or RetrainEvents.Progress).Select(e => RetrainJobJson.Read(e.Detail))];
        Assert.All(told, t => Assert.Equal(job.Id, t.Id));
        // One-way fan-out calls may overtake each other: every state is told, in whatever order they arrived.
        Assert.Contains(told, t => t.State == RetrainJobState.Waiting);
        Assert.Contains(told, t => t.State == RetrainJobState.Running && t.Progress.FoldsDone > 0);
        // Grid:Retraining:Threads (1 in these clusters) sizes the booster.
        Assert.Contains(told, t => t.Detail == "training on 2000 bars of 1 asset(s) with 1 booster thread");
        Assert.Contains(told, t => t.State == RetrainJobState.Waiting && t.Through == 0);
        Assert.Contains(told, t => t.State == RetrainJobState.Registered && t.Version == job.Version);
        Assert.Equal(0, fixture.Service<RetrainMetrics>(Silo).ActiveJobs);
        Assert.Equal(0, Measured("marketintel_retrain_jobs_active_oldest_seconds"));
        RetrainJob listed = (await Coordinator(name).List(10)).Single();
        Assert.Equal((job.Id, job.State, job.Version, job.UpdatedAt), (listed.Id, listed.State, listed.Version, listed.UpdatedAt));
    }

    [Fact]
    public async Task A_second_request_waits_for_the_active_job_and_the_minimum_interval_unless_forced_and_a_cancelled_job_registers_nothing()
    {
        string name = $"rd-{Guid.NewGuid():N}"[..12];
        string asset = name.ToUpperInvariant();
        // Many deep rounds: the job is still training when it is cancelled.
        await Retrain.RegisterBase(fixture.Grains, name, rounds: 5000, depth: 8, asset);
        await Feed(asset, 3000);

        var progress = new ConcurrentQueue<RetrainJob>();
        using IDisposable listening = fixture.Service<SiloModelEvents>(Silo).Listen(e =>
        {
            if (e.Change.Name == name && e.Change.Action == RetrainEvents.Progress)
            {
                progress.Enqueue(RetrainJobJson.Read(e.Change.Detail));
            }
        });

        RetrainStart first = await Coordinator(name).Request(Retrain.Manual(name));
        Assert.True(first.Started, first.Reason);
        RetrainStart second = await Coordinator(name).Request(new RetrainRequest(name, RetrainTrigger.Drift, "MSFT drifts", "triggers"));
        Assert.False(second.Started);
        Assert.Equal(first.Job!.Id, second.Job!.Id);
        Assert.Contains("one job at a time", second.Reason, StringComparison.Ordinal);
        Assert.Single(await Coordinator(name).List(10));

        // The pipeline's progress reaches the coordinator, which tells it on the model-event stream.
        await Retrain.Until(Coordinator(name), first.Job.Id, j => j.State == RetrainJobState.Running && j.Progress.Rows > 0, "training");
        for (int i = 0; i < 600 && !progress.Any(p => p.Progress.Rows > 0); i++)
        {
            await Task.Delay(50);
        }
        Assert.Contains(progress, p => p.Id == first.Job.Id && p.State == RetrainJobState.Running && p.Progress.Rows > 0);
        RetrainJob cancelled = await Coordinator(name).Cancel(first.Job.Id, "bob");
        Assert.Equal(RetrainJobState.Cancelled, cancelled.State);
        Assert.StartsWith("cancelled by bob while running", cancelled.Detail, StringComparison.Ordinal);
        Assert.NotNull(cancelled.FinishedAt);
        // A final job stays as it is.
        RetrainJob again = await Coordinator(name).Cancel(first.Job.Id, "carol");
        Assert.Equal((cancelled.State, cancelled.Detail, cancelled.FinishedAt), (again.State, again.Detail, again.FinishedAt));
        IRetrainJobGrain worker = fixture.Grains.GetGrain<IRetrainJobGrain>(first.Job.Id);
        for (int i = 0; i < 600 && await worker.IsRunning(); i++)
        {
            await Task.Delay(100);
        }
        Assert.False(await worker.IsRunning());
        Assert.Empty(await Retrain.Tagged(fixture.Grains, name, first.Job.Id));
        Assert.Equal(RetrainJobState.Cancelled, (await Coordinator(name).Get(first.Job.Id)).State);

        // Within the minimum interval (an hour by default) of the last job's start: refused, then forced.
        RetrainStart early = await Coordinator(name).Request(Retrain.Manual(name));
        Assert.False(early.Started);
        Assert.Equal(first.Job.Id, early.Job!.Id);
        Assert.Contains("minimum interval", early.Reason, StringComparison.Ordinal);
        Assert.Contains("force", early.Reason, StringComparison.Ordinal);
        var refused = await Assert.ThrowsAsync<GridException>(() => Coordinator(name).Request(new RetrainRequest(name, RetrainTrigger.Drift, "", "t") { Force = true }));
        Assert.Equal(GridErrorKind.InvalidArgument, refused.Kind);
        RetrainStart forced = await Coordinator(name).Request(Retrain.Manual(name, force: true));
        Assert.True(forced.Started, forced.Reason);
        Assert.NotEqual(first.Job.Id, forced.Job!.Id);
        Assert.Equal([forced.Job.Id, first.Job.Id], (await Coordinator(name).List(10)).Select(j => j.Id));
        Assert.Equal(RetrainJobState.Cancelled, (await Coordinator(name).Cancel(forced.Job.Id, "bob")).State);
    }

    [Fact]
    public async Task Bad_requests_are_refused_naming_what_is_wrong_and_an_unknown_job_is_not_found()
    {
        string name = $"rb-{Guid.NewGuid():N}"[..12];
        var wrongName = await Assert.ThrowsAsync<GridException>(() => Coordinator(name).Request(Retrain.Manual("other")));
        Assert.Contains("'other'", wrongName.Message, StringComparison.Ordinal);
        var badAsset = await Assert.ThrowsAsync<GridException>(() => Coordinator(name).Request(Retrain.Manual(name) with { Assets = ["A B"] }));
        Assert.Contains("white space", badAsset.Message, StringComparison.Ordinal);
        var badLabel = await Assert.ThrowsAsync<GridException>(() => Coordinator(name).Request(Retrain.Manual(name) with { Label = "up_x" }));
        Assert.Contains("up_x", badLabel.Message, StringComparison.Ordinal);
        var badSpec = await Assert.ThrowsAsync<GridException>(() => Coordinator(name).Request(Retrain.Manual(name) with { Spec = "sma_" }));
        Assert.Contains("spec", badSpec.Message, StringComparison.Ordinal);
        Assert.Empty(await Coordinator(name).List(10));
        var missing = await Assert.ThrowsAsync<GridException>(() => Coordinator(name).Get("nope"));
        Assert.Equal(GridErrorKind.NotFound, missing.Kind);
        await Assert.ThrowsAsync<GridException>(() => Coordinator(name).List(0));
    }

    [Fact]
    public async Task A_job_for_a_model_with_no_known_assets_or_no_served_version_fails_saying_so()
    {
        string name = $"rn-{Guid.NewGuid():N}"[..12];
        await Retrain.RegisterBase(fixture.Grains, name, rounds: 5, depth: 2);
        RetrainStart start = await Coordinator(name).Request(Retrain.Manual(name));
        RetrainJob job = await Retrain.Until(Coordinator(name), start.Job!.Id, j => !j.IsActive, "an end");
        Assert.Equal(RetrainJobState.Failed, job.State);
        Assert.Contains("no assets are known", job.Detail, StringComparison.Ordinal);
        Assert.Empty(await Retrain.Tagged(fixture.Grains, name, job.Id));

        // A version no alias names, and the default another model: nothing is served to retrain.
        string unserved = $"ru-{Guid.NewGuid():N}"[..12];
        await Retrain.RegisterBase(fixture.Grains, unserved, rounds: 5, depth: 2, "ANY");
        await fixture.Grains.GetGrain<IModelRegistryGrain>(0).RemoveAlias(unserved, RetrainJobGrain.ServedAlias, "test");
        start = await Coordinator(unserved).Request(Retrain.Manual(unserved));
        job = await Retrain.Until(Coordinator(unserved), start.Job!.Id, j => !j.IsActive, "an end");
        Assert.Equal(RetrainJobState.Failed, job.State);
        Assert.Contains($"model '{unserved}' has no served version to retrain", job.Detail, StringComparison.Ordinal);
        Assert.Null(job.BaseVersion);
    }

    private static PromotionDecision Decision(string name, string challenger, bool promoted, long pairs) => new()
    {
        Name = name, Alias = RetrainJobGrain.ServedAlias, Champion = "v1", Challenger = challenger, Promoted = promoted, Pairs = pairs,
        Reason = promoted ? "promoted: on 600 paired outcomes the challenger's mean log loss is lower" : $"refused: only {pairs} paired outcomes, 500 needed",
        Statistics = new Dictionary<string, double> { ["pairs"] = pairs, ["minPairs"] = 500 }, DecidedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
    };

    [Fact]
    public async Task A_registered_challenger_becomes_promoted_or_rejected_by_the_gates_decision_and_a_refusal_for_want_of_evidence_decides_nothing()
    {
        string promoted = $"rp-{Guid.NewGuid():N}"[..12], rejected = $"rj-{Guid.NewGuid():N}"[..12];
        IModelRegistryGrain registry = fixture.Grains.GetGrain<IModelRegistryGrain>(0);
        var jobs = new Dictionary<string, RetrainJob>();
        foreach (string name in new[] { promoted, rejected })
        {
            await Retrain.RegisterBase(fixture.Grains, name, rounds: 10, depth: 2, name.ToUpperInvariant());
            await Feed(name.ToUpperInvariant(), 1000);
            RetrainStart start = await Coordinator(name).Request(Retrain.Manual(name));
            jobs[name] = await Retrain.Until(Coordinator(name), start.Job!.Id, j => !j.IsActive, "an end");
            Assert.Equal(RetrainJobState.Registered, jobs[name].State);
            // The automatic policy's first look at a new shadow: refused for want of pairs, which decides nothing.
            await registry.RecordDecision(Decision(name, jobs[name].Version!, promoted: false, pairs: 3), "auto-promote");
        }
        // Checked every 100 ms: many checks later, still waiting for a decision.
        await Task.Delay(1000);
        Assert.Equal(RetrainJobState.Registered, (await Coordinator(promoted).Get(jobs[promoted].Id)).State);

        await registry.RecordDecision(Decision(promoted, jobs[promoted].Version!, promoted: true, pairs: 600), "auto-promote");
        await registry.RecordDecision(Decision(rejected, jobs[rejected].Version!, promoted: false, pairs: 600), "ana");
        RetrainJob up = await Retrain.Until(Coordinator(promoted), jobs[promoted].Id, j => j.State != RetrainJobState.Registered, "a decision");
        RetrainJob down = await Retrain.Until(Coordinator(rejected), jobs[rejected].Id, j => j.State != RetrainJobState.Registered, "a decision");
        Assert.Equal(RetrainJobState.Promoted, up.State);
        Assert.Contains("promoted: on 600 paired outcomes", up.Detail, StringComparison.Ordinal);
        Assert.Contains("auto-promote", up.Detail, StringComparison.Ordinal);
        Assert.Equal(RetrainJobState.Rejected, down.State);
        Assert.Contains("refused: only 600 paired outcomes", down.Detail, StringComparison.Ordinal);
        Assert.True(up.FinishedAt >= jobs[promoted].FinishedAt);
        Assert.Equal(up.Version, (await registry.GetDeployment(promoted)).Aliases[RetrainJobGrain.ServedAlias].Version);
    }
}
