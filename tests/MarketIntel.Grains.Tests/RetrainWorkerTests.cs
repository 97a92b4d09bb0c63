using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Grains.Placement;
using MarketIntel.Grains.Retraining;
using MarketIntel.Tests;

namespace MarketIntel.Grains.Tests;

/// <summary>A serving silo and two workers sharing one archive.</summary>
public sealed class TwoWorkerRetrainCluster() : RetrainCluster([SiloRole.Serving, SiloRole.Worker, SiloRole.Worker], 3);

/// <summary>A serving silo and a worker.</summary>
public sealed class OneWorkerRetrainCluster() : RetrainCluster([SiloRole.Serving, SiloRole.Worker], 2);

/// <summary>A serving silo alone; a worker (the second role) joins when a test starts it.</summary>
public sealed class LateWorkerRetrainCluster() : RetrainCluster([SiloRole.Serving, SiloRole.Worker], 1);

/// <summary>
/// Retraining jobs across silo roles: the coordinator on the serving silo, the job on a worker; a job whose worker
/// stops starts again on the other and registers exactly one version; with no worker a job waits, saying why, and runs
/// once a worker joins.
/// </summary>
public sealed class RetrainWorkerTests
{
    private const int BarsPerAsset = 5000;

    private static async Task Archive(RetrainCluster cluster, params string[] assets)
    {
        foreach (string asset in assets)
        {
            await cluster.SharedArchive!.Append(asset, 0, Retrain.Stored(0, BarsPerAsset));
        }
    }

    [Fact]
    public async Task A_job_whose_worker_stops_runs_again_on_the_other_worker_and_registers_exactly_one_version()
    {
        var cluster = new TwoWorkerRetrainCluster();
        await cluster.InitializeAsync();
        try
        {
            await WorkerStops(cluster);
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    private static async Task WorkerStops(RetrainCluster cluster)
    {
        string name = $"rw-{Guid.NewGuid():N}"[..12];
        string[] assets = ["W1", "W2", "W3"];
        await Archive(cluster, assets);
        // Long enough training that the stop below lands in it on a loaded machine: with 500 rounds a job once finished
        // on its first worker while that silo was being stopped.
        await RoleCluster.OnceRolesAreKnown(() => Retrain.RegisterBase(cluster.Grains, name, rounds: 1500, depth: 6, assets));
        IRetrainCoordinatorGrain coordinator = cluster.Grains.GetGrain<IRetrainCoordinatorGrain>(name);

        RetrainStart start = await RoleCluster.OnceRolesAreKnown(() => coordinator.Request(Retrain.Manual(name)));
        Assert.True(start.Started, start.Reason);
        RetrainJob running = await Retrain.Until(coordinator, start.Job!.Id, j => j.State == RetrainJobState.Running && j.Progress.Rows > 0 && j.Worker is not null, "training");
        Assert.Contains(running.Worker, cluster.SilosOf(SiloRole.Worker));
        Assert.Equal(1, running.Attempt);
        Assert.True(running.Progress.FoldsDone < running.Progress.Folds, $"stopped too late: {running.Progress}");
        string other = cluster.SilosOf(SiloRole.Worker).Single(w => w != running.Worker);
        // Bars ingested after the first attempt read the archive (history replayed: far older than the clock) are not
        // the retry's: it reads up to the same archive time.
        long through = Retrain.Stored(BarsPerAsset - 1, 1)[0].Timestamp;
        Assert.Equal(through, running.Through);
        foreach (string asset in assets)
        {
            await cluster.SharedArchive!.Append(asset, 0, Retrain.Stored(BarsPerAsset, 200));
        }
        await cluster.Cluster.StopSiloAsync(cluster.Cluster.Silos.Single(s => s.SiloAddress.ToString() == running.Worker));

        RetrainJob job = await Retrain.Until(coordinator, start.Job.Id, j => !j.IsActive, "an end");
        Assert.Equal(RetrainJobState.Registered, job.State);
        Assert.Equal((2, other), (job.Attempt, job.Worker));
        Assert.Equal(BarsPerAsset * assets.Length, job.Progress.BarsRead);
        Assert.Equal(through, job.Through);
        ModelVersionDetails version = Assert.Single(await Retrain.Tagged(cluster.Grains, name, job.Id));
        Assert.Equal(job.Version, version.Info.Model.Version);
        Assert.Equal(2, (await cluster.Grains.GetGrain<IModelRegistryGrain>(0).GetModel(name)).Versions.Count);
    }

    [Fact]
    public async Task With_only_a_serving_silo_a_job_waits_saying_why_and_runs_once_a_worker_joins()
    {
        var cluster = new LateWorkerRetrainCluster();
        await cluster.InitializeAsync();
        try
        {
            await WorkerJoins(cluster);
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    private static async Task WorkerJoins(RetrainCluster cluster)
    {
        string name = $"rl-{Guid.NewGuid():N}"[..12];
        await Archive(cluster, "L1");
        await Retrain.RegisterBase(cluster.Grains, name, rounds: 20, depth: 3, "L1");
        IRetrainCoordinatorGrain coordinator = cluster.Grains.GetGrain<IRetrainCoordinatorGrain>(name);

        RetrainStart start = await coordinator.Request(Retrain.Manual(name));
        Assert.True(start.Started, start.Reason);
        Assert.Equal(RetrainJobState.Waiting, start.Job!.State);
        Assert.StartsWith("no worker silo in the cluster", start.Job.Detail, StringComparison.Ordinal);
        Assert.Equal(0, start.Job.Attempt);
        // Checked every 100 ms: still waiting a good many checks later, and it says so each time it is asked.
        await Task.Delay(1000);
        RetrainJob waiting = await coordinator.Get(start.Job.Id);
        Assert.Equal((RetrainJobState.Waiting, 0), (waiting.State, waiting.Attempt));
        Assert.StartsWith("no worker silo in the cluster", waiting.Detail, StringComparison.Ordinal);
        RetrainStart second = await coordinator.Request(Retrain.Manual(name, force: true));
        Assert.False(second.Started);
        Assert.Contains("waiting (no worker silo", second.Reason, StringComparison.Ordinal);

        await cluster.Cluster.StartAdditionalSiloAsync();
        RetrainJob job = await Retrain.Until(coordinator, start.Job.Id, j => !j.IsActive, "an end");
        Assert.Equal(RetrainJobState.Registered, job.State);
        Assert.Equal(cluster.SilosOf(SiloRole.Worker).Single(), job.Worker);
        Assert.Single(await Retrain.Tagged(cluster.Grains, name, job.Id));
    }

    [Fact]
    public async Task A_job_is_read_while_the_coordinators_check_of_its_worker_waits_for_an_answer()
    {
        var cluster = new OneWorkerRetrainCluster();
        await cluster.InitializeAsync();
        try
        {
            await ReadWhileCheckWaits(cluster);
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    // A worker killed under its job holds the coordinator's check (IsRunning) until the silo is declared dead; here the
    // worker holds it on purpose. Reads of the job must not wait behind it: a client polling then got 503s (timeouts).
    private static async Task ReadWhileCheckWaits(RetrainCluster cluster)
    {
        string name = $"rh-{Guid.NewGuid():N}"[..12];
        await Archive(cluster, "H1");
        await RoleCluster.OnceRolesAreKnown(() => Retrain.RegisterBase(cluster.Grains, name, rounds: 5000, depth: 8, "H1"));
        IRetrainCoordinatorGrain coordinator = cluster.Grains.GetGrain<IRetrainCoordinatorGrain>(name);
        RetrainStart start = await RoleCluster.OnceRolesAreKnown(() => coordinator.Request(Retrain.Manual(name)));
        Assert.True(start.Started, start.Reason);
        string id = start.Job!.Id;
        await Retrain.Until(coordinator, id, j => j.State == RetrainJobState.Running && j.Progress.Rows > 0, "training");

        var (arrived, release) = RetrainCluster.HoldIsRunning(id);
        try
        {
            // The coordinator checks every 100 ms: its next check is held on the worker, and its timer's turn with it.
            await arrived.WaitAsync(TimeSpan.FromSeconds(60));
            // Answered at once, not after the held check (or the call's 30 s timeout) lets the coordinator go.
            RetrainJob read = await coordinator.Get(id).WaitAsync(TimeSpan.FromSeconds(15));
            Assert.Equal(RetrainJobState.Running, read.State);
            Assert.Equal(id, Assert.Single(await coordinator.List(10).WaitAsync(TimeSpan.FromSeconds(15))).Id);
        }
        finally
        {
            release.TrySetResult();
        }
        RetrainJob cancelled = await coordinator.Cancel(id, "test");
        Assert.Equal(RetrainJobState.Cancelled, cancelled.State);
    }
}
