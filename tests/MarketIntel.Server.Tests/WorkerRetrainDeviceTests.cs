using System.Globalization;
using MarketIntel.Abstractions;
using MarketIntel.Abstractions.Models;
using MarketIntel.Abstractions.Storage;
using MarketIntel.Gpu.Devices;
using MarketIntel.Gpu.Drift;
using MarketIntel.Gpu.Training;
using MarketIntel.Grains.Drift;
using MarketIntel.Grains.Retraining;
using MarketIntel.Tests;
using MarketIntel.Training.Devices;
using MarketIntel.Training.Drift;
using MarketIntel.Training.Retraining;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MarketIntel.Server.Tests;

/// <summary>
/// A worker silo started with <c>--device cpu</c> (ILGPU's CPU accelerator: the kernels themselves) trains its
/// retraining jobs through the device: the job says so, the device counts it, and its walk-forward scores are within
/// 0.5% of the CPU path's on the same bars and plan. The device takes one job at a time, and a drift scan gets in
/// between a job's steps.
/// </summary>
/// <remarks>In the "server" collection: its host predicts with the bundled model in this process, whose metrics are
/// prometheus-net's process-wide registry, and MetricsTests counts that version's predictions exactly.</remarks>
[Collection("server")]
public sealed class WorkerRetrainDeviceTests
{
    // The tolerance between the device's and the CPU's models: the same test scores within 0.5%.
    private const double Relative = 0.005;

    [Fact]
    public async Task A_worker_with_device_cpu_trains_a_retraining_job_on_the_device_within_half_a_percent_of_the_cpu_path()
    {
        await using InProcessGrid grid = await InProcessGrid.StartAsync(new Dictionary<string, string?>
        {
            ["MarketIntel:Role"] = "all",
            ["MarketIntel:Device"] = "cpu",
            ["Grid:Retraining:Folds"] = "2",
            // The job under test is the manual one: no watch starts another.
            ["Grid:Retraining:Triggers:DriftingAssets"] = "1000",
        });
        IServiceProvider services = grid.App.Services;
        var device = Assert.IsType<GpuTrainingDevice>(services.GetRequiredService<ITrainingDevice>());
        Assert.StartsWith("ilgpu-cpu:", device.Device, StringComparison.Ordinal);
        var grains = services.GetRequiredService<IGrainFactory>();

        string name = $"gd-{Guid.NewGuid():N}"[..12];
        string asset = name.ToUpperInvariant();
        await Retrain.RegisterBase(grains, name, rounds: 10, depth: 3, asset);
        IAssetGrain assetGrain = grains.GetGrain<IAssetGrain>(asset);
        for (int at = 0; at < 800; at += 400)
        {
            Assert.Equal(400, (await assetGrain.AddBars(SeriesBars.Of(Retrain.Bars, at, 400))).Accepted);
        }

        long jobsBefore = device.Jobs;
        var coordinator = grains.GetGrain<IRetrainCoordinatorGrain>(name);
        RetrainStart start = await coordinator.Request(Retrain.Manual(name));
        Assert.True(start.Started, start.Reason);
        RetrainJob job = await Retrain.Until(coordinator, start.Job!.Id, j => !j.IsActive, "an end");
        Assert.True(job.State == RetrainJobState.Registered, $"the job ended {job.State}: {job.Detail}");
        Assert.Contains($"trained on {device.Device}", job.Detail, StringComparison.Ordinal);
        Assert.Equal(jobsBefore + 1, device.Jobs);
        Assert.Single(await Retrain.Tagged(grains, name, job.Id));

        // The same job on the CPU path: the plan from the base version's lineage, the bars the job read.
        ModelDetails model = await grains.GetGrain<IModelRegistryGrain>(0).GetModel(name);
        string lineage = model.Versions.Single(v => v.Info.Model.Version == "v1").Lineage!;
        var options = services.GetRequiredService<IOptions<RetrainingOptions>>().Value;
        RetrainPlan plan = RetrainPlans.FromLineage(name, "v1", lineage, null, null, options.Folds, options.ProfileBins, "test");
        AssetBars bars = await Retrain.Archived(services.GetRequiredService<IBarArchive>(), asset);
        Assert.Equal(job.Through.ToString(CultureInfo.InvariantCulture), bars.Bars.Timestamps[^1]);
        RetrainOutput cpu = RetrainPipeline.Run(plan, [bars], null, CancellationToken.None);

        IReadOnlyDictionary<string, double> onDevice = job.Progress.Validation!;
        Assert.Equal(cpu.Validation.Keys.Order(StringComparer.Ordinal), onDevice.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(cpu.Rows, job.Progress.Rows);
        foreach ((string metric, double expected) in cpu.Validation)
        {
            double actual = onDevice[metric];
            Assert.True(Math.Abs(actual - expected) <= Relative * Math.Abs(expected), $"{metric}: {actual} on the device, {expected} on the CPU");
        }
    }

    [Fact]
    public async Task The_device_takes_one_job_at_a_time_and_a_drift_scan_runs_between_a_jobs_steps()
    {
        using GpuDevice gpu = GpuDevice.Open(DeviceChoice.Cpu)!;
        using var device = new GpuTrainingDevice(gpu);
        IHistogramDevice first = device.Take(CancellationToken.None);
        Assert.Equal((1L, true), (device.Jobs, device.Busy));

        // A second job waits for the first: cancelled while it waits, it never took the device.
        using var stop = new CancellationTokenSource();
        using var waiting = new ManualResetEventSlim();
        Task<IHistogramDevice> second = Task.Run(() =>
        {
            waiting.Set();
            return device.Take(stop.Token);
        });
        waiting.Wait();
        await stop.CancelAsync();
        await Assert.ThrowsAsync<OperationCanceledException>(() => second);
        Assert.Equal((1L, true), (device.Jobs, device.Busy));

        // A job that holds the device between steps does not hold its launch lock: a scan on the same device runs.
        var layout = new DriftScan(DriftScanner.Series(DriftSeries.Profile(DriftSeries.Walk(seed: 1, count: 400, sigma: 0.01))));
        int[] counts = [.. Enumerable.Range(0, layout.Rows * 2).Select(i => i % 7)];
        var missing = new int[layout.Series.Count * 2];
        DriftScanResult scanned = new GpuDriftScanEngine(gpu).Scan(layout, counts, missing, 2, 0.01);
        Assert.Equal(layout.Scan(counts, missing, 2, 0.01).Count, scanned.Count);

        // Giving the device back (twice: the second changes nothing) lets one job in, and only one.
        first.Dispose();
        first.Dispose();
        Assert.False(device.Busy);
        using IHistogramDevice next = device.Take(CancellationToken.None);
        Assert.Equal((2L, true), (device.Jobs, device.Busy));
    }
}
