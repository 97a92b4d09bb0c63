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
    [Fact]
    public async Task A_job_whose_device_fails_mid_job_registers_the_cpu_only_jobs_model_and_the_next_job_trains_on_the_cpu()
    {
        using GpuDevice gpu = GpuDevice.Open(DeviceChoice.Cpu)!;
        using var training = new GpuTrainingDevice(gpu);
        // A model of 6 rounds of depth 3 takes about 30 launches: the 41st, in the second fold's model, fails.
        var faulty = new FaultyTrainingDevice(training) { FailAfter = 40 };
        var cluster = new DeviceRetrainCluster(faulty);
        await cluster.InitializeAsync();
        try
        {
            await FailsThenCpu(cluster, faulty);
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_job_cancelled_while_it_trains_on_the_device_is_cancelled_and_leaves_the_device_in_use()
    {
        using GpuDevice gpu = GpuDevice.Open(DeviceChoice.Cpu)!;
        using var training = new GpuTrainingDevice(gpu);
        // The fifth step (in the first fold's first tree) waits while the job is cancelled.
        var faulty = new FaultyTrainingDevice(training) { PauseAt = 5 };
        var cluster = new DeviceRetrainCluster(faulty);
        await cluster.InitializeAsync();
        try
        {
            IGrainFactory grains = cluster.Grains;
            string name = $"dc-{Guid.NewGuid():N}"[..12];
            string asset = name.ToUpperInvariant();
            await Retrain.RegisterBase(grains, name, rounds: 6, depth: 3, asset);
            Assert.Equal(600, (await grains.GetGrain<IAssetGrain>(asset).AddBars(SeriesBars.Of(Retrain.Bars, 0, 600))).Accepted);
            var coordinator = grains.GetGrain<IRetrainCoordinatorGrain>(name);
            RetrainStart start = await coordinator.Request(Retrain.Manual(name));
            Assert.True(start.Started, start.Reason);
            Assert.True(await Task.Run(() => faulty.Paused.Wait(TimeSpan.FromMinutes(3))), "the job never reached the device's fifth step");

            Assert.Equal(RetrainJobState.Cancelled, (await coordinator.Cancel(start.Job!.Id, "bob")).State);
            faulty.Release.Set();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (training.Busy && clock.Elapsed < TimeSpan.FromMinutes(3))
            {
                await Task.Delay(50);
            }
            Assert.False(training.Busy, "the cancelled job kept the device");
            var devices = cluster.Service<SiloTrainingDevice>(cluster.Cluster.Primary!.SiloAddress.ToString());
            Assert.Equal(0, devices.Fallbacks);
            Assert.Same(faulty, devices.Choose().Device);
            Assert.Empty(await Retrain.Tagged(grains, name, start.Job.Id));
            Assert.Equal(RetrainJobState.Cancelled, (await coordinator.Get(start.Job.Id)).State);
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    private static async Task FailsThenCpu(RetrainCluster cluster, FaultyTrainingDevice faulty)
    {
        IGrainFactory grains = cluster.Grains;
        string silo = cluster.Cluster.Primary!.SiloAddress.ToString();
        string name = $"df-{Guid.NewGuid():N}"[..12];
        string asset = name.ToUpperInvariant();
        await Retrain.RegisterBase(grains, name, rounds: 6, depth: 3, asset);
        IAssetGrain assetGrain = grains.GetGrain<IAssetGrain>(asset);
        Assert.Equal(600, (await assetGrain.AddBars(SeriesBars.Of(Retrain.Bars, 0, 600))).Accepted);

        var coordinator = grains.GetGrain<IRetrainCoordinatorGrain>(name);
        RetrainStart start = await coordinator.Request(Retrain.Manual(name));
        Assert.True(start.Started, start.Reason);
        RetrainJob job = await Retrain.Until(coordinator, start.Job!.Id, j => !j.IsActive, "an end");
        Assert.True(job.State == RetrainJobState.Registered, $"the job ended {job.State}: {job.Detail}");
        string error = $"InvalidOperationException: {FaultyTrainingDevice.Injected(41)}";
        Assert.Contains($"trained on the CPU after device {faulty.Device} failed ({error})", job.Detail, StringComparison.Ordinal);
        Assert.Equal((1, 41), (faulty.Takes, faulty.Launches));
        var devices = cluster.Service<SiloTrainingDevice>(silo);
        Assert.Equal(1, devices.Fallbacks);
        Assert.Equal(error, devices.Failure!.Error);

        // The same job on the CPU path alone: the plan from the base version's lineage, the bars the job read.
        ModelDetails model = await grains.GetGrain<IModelRegistryGrain>(0).GetModel(name);
        string lineage = model.Versions.Single(v => v.Info.Model.Version == "v1").Lineage!;
        var options = cluster.Service<IOptions<RetrainingOptions>>(silo).Value;
        RetrainPlan plan = RetrainPlans.FromLineage(name, "v1", lineage, null, null, options.Folds, options.ProfileBins, "test");
        RetrainOutput cpu = RetrainPipeline.Run(plan, [await Retrain.Archived(cluster.Service<IBarArchive>(silo), asset)], null, CancellationToken.None);
        Assert.Equal(cpu.Version, job.Version);
        Assert.Equal(cpu.Model, await grains.GetGrain<IModelRegistryGrain>(0).GetBytes(new ModelRef(name, job.Version!)));
        Assert.Equal(cpu.Validation, job.Progress.Validation);

        // The failed device is out of use until the silo restarts: the next job trains on the CPU without taking it.
        Assert.Equal(100, (await assetGrain.AddBars(SeriesBars.Of(Retrain.Bars, 600, 100))).Accepted);
        RetrainStart next = await coordinator.Request(Retrain.Manual(name, force: true));
        Assert.True(next.Started, next.Reason);
        RetrainJob second = await Retrain.Until(coordinator, next.Job!.Id, j => !j.IsActive, "an end");
        Assert.True(second.State == RetrainJobState.Registered, $"the job ended {second.State}: {second.Detail}");
        Assert.Contains($"trained on the CPU (device {faulty.Device} is out of use since it failed: {error}; restart the worker to use it again)",
            second.Detail, StringComparison.Ordinal);
        Assert.Equal((1, 41, 1L), (faulty.Takes, faulty.Launches, devices.Fallbacks));
    }
}
