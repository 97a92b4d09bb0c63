using System.Diagnostics;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Gpu.Devices;
using MarketIntel.Gpu.Training;
using MarketIntel.Grains.Placement;
using MarketIntel.Grains.Retraining;
using MarketIntel.Tests;
using MarketIntel.Training.Devices;
using MarketIntel.Training.Retraining;
using Microsoft.Extensions.Options;

namespace MarketIntel.Grains.Tests;

/// <summary>One silo (serving and worker) whose jobs train on <paramref name="device"/>.</summary>
public sealed class DeviceRetrainCluster(ITrainingDevice device) : RetrainCluster([SiloRole.All], 1, device);

/// <summary>
/// A worker whose training device (ILGPU's CPU accelerator behind a double that fails after a number of launches)
/// fails mid-job registers the model a CPU-only job makes on the same bars and plan, and its detail says so; the next
/// job does not take the failed device. A job cancelled on the device is cancelled, not moved to the CPU.
/// </summary>
public sealed class RetrainDeviceFallbackTests
{
    // A silo whose jobs train on ILGPU's CPU accelerator behind a FaultyTrainingDevice set up by the test.
    private sealed record Worker(RetrainCluster Cluster, FaultyTrainingDevice Device, GpuTrainingDevice Accelerator)
    {
        public IGrainFactory Grains => Cluster.Grains;

        public T Service<T>()
            where T : notnull => Cluster.Service<T>(Cluster.Cluster.Primary!.SiloAddress.ToString());
    }

    private static async Task OnWorker(Action<FaultyTrainingDevice> setUp, Func<Worker, Task> test)
    {
        using GpuDevice gpu = GpuDevice.Open(DeviceChoice.Cpu)!;
        using var training = new GpuTrainingDevice(gpu);
        var faulty = new FaultyTrainingDevice(training);
        setUp(faulty);
        var cluster = new DeviceRetrainCluster(faulty);
        await cluster.InitializeAsync();
        try
        {
            await test(new Worker(cluster, faulty, training));
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    // A model retraining a base of 6 rounds of depth 3 on 600 archived bars, and the start of its manual job.
    private static async Task<(string Name, IRetrainCoordinatorGrain Coordinator, RetrainJob Job)> StartJob(Worker worker)
    {
        string name = $"df-{Guid.NewGuid():N}"[..12];
        string asset = name.ToUpperInvariant();
        await Retrain.RegisterBase(worker.Grains, name, rounds: 6, depth: 3, asset);
        Assert.Equal(600, (await worker.Grains.GetGrain<IAssetGrain>(asset).AddBars(SeriesBars.Of(Retrain.Bars, 0, 600))).Accepted);
        var coordinator = worker.Grains.GetGrain<IRetrainCoordinatorGrain>(name);
        RetrainStart start = await coordinator.Request(Retrain.Manual(name));
        Assert.True(start.Started, start.Reason);
        return (name, coordinator, start.Job!);
    }

    // A model of 6 rounds of depth 3 takes about 30 launches: the 41st, in the second fold's model, fails.
    [Fact]
    public Task A_job_whose_device_fails_mid_job_registers_the_cpu_only_jobs_model_and_the_next_job_trains_on_the_cpu() =>
        OnWorker(d => d.FailAfter = 40, async worker =>
        {
            FaultyTrainingDevice faulty = worker.Device;
            (string name, IRetrainCoordinatorGrain coordinator, RetrainJob started) = await StartJob(worker);
            RetrainJob job = await Retrain.Until(coordinator, started.Id, j => !j.IsActive, "an end");
            Assert.True(job.State == RetrainJobState.Registered, $"the job ended {job.State}: {job.Detail}");
            string error = $"InvalidOperationException: {FaultyTrainingDevice.Injected(41)}";
            Assert.Contains($"trained on the CPU after device {faulty.Device} failed ({error})", job.Detail, StringComparison.Ordinal);
            Assert.Equal((1, 41), (faulty.Takes, faulty.Launches));
            var devices = worker.Service<SiloTrainingDevice>();
            Assert.Equal(1, devices.Fallbacks);
            Assert.Equal(error, devices.Failure!.Error);

            // The same job on the CPU path alone: the plan from the base version's lineage, the bars the job read.
            var registry = worker.Grains.GetGrain<IModelRegistryGrain>(0);
            string lineage = (await registry.GetModel(name)).Versions.Single(v => v.Info.Model.Version == "v1").Lineage!;
            var options = worker.Service<IOptions<RetrainingOptions>>().Value;
            RetrainPlan plan = RetrainPlans.FromLineage(name, "v1", lineage, null, null, options.Folds, options.ProfileBins, "test");
            string asset = name.ToUpperInvariant();
            RetrainOutput cpu = RetrainPipeline.Run(plan, [await Retrain.Archived(worker.Service<IBarArchive>(), asset)], null, CancellationToken.None);
            Assert.Equal(cpu.Version, job.Version);
            Assert.Equal(cpu.Model, await registry.GetBytes(new ModelRef(name, job.Version!)));
            Assert.Equal(cpu.Validation, job.Progress.Validation);

            // The failed device is out of use until the silo restarts: the next job trains on the CPU without taking it.
            Assert.Equal(100, (await worker.Grains.GetGrain<IAssetGrain>(asset).AddBars(SeriesBars.Of(Retrain.Bars, 600, 100))).Accepted);
            RetrainStart next = await coordinator.Request(Retrain.Manual(name, force: true));
            Assert.True(next.Started, next.Reason);
            RetrainJob second = await Retrain.Until(coordinator, next.Job!.Id, j => !j.IsActive, "an end");
            Assert.True(second.State == RetrainJobState.Registered, $"the job ended {second.State}: {second.Detail}");
            Assert.Contains($"trained on the CPU (device {faulty.Device} is out of use since it failed: {error}; restart the worker to use it again)",
                second.Detail, StringComparison.Ordinal);
            Assert.Equal((1, 41, 1L), (faulty.Takes, faulty.Launches, devices.Fallbacks));
        });

    // The fifth step (in the first fold's first tree) waits while the job is cancelled.
    [Fact]
    public Task A_job_cancelled_while_it_trains_on_the_device_is_cancelled_and_leaves_the_device_in_use() =>
        OnWorker(d => d.PauseAt = 5, async worker =>
        {
            (string name, IRetrainCoordinatorGrain coordinator, RetrainJob started) = await StartJob(worker);
            Assert.True(await Task.Run(() => worker.Device.Paused.Wait(TimeSpan.FromMinutes(3))), "the job never reached the device's fifth step");

            Assert.Equal(RetrainJobState.Cancelled, (await coordinator.Cancel(started.Id, "bob")).State);
            worker.Device.Release.Set();
            var clock = Stopwatch.StartNew();
            while (worker.Accelerator.Busy && clock.Elapsed < TimeSpan.FromMinutes(3))
            {
                await Task.Delay(50);
            }
            Assert.False(worker.Accelerator.Busy, "the cancelled job kept the device");
            var devices = worker.Service<SiloTrainingDevice>();
            Assert.Equal(0, devices.Fallbacks);
            Assert.Same(worker.Device, devices.Choose().Device);
            Assert.Empty(await Retrain.Tagged(worker.Grains, name, started.Id));
            Assert.Equal(RetrainJobState.Cancelled, (await coordinator.Get(started.Id)).State);
        });
}
