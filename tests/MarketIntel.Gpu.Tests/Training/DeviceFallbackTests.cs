using MarketIntel.Features;
using MarketIntel.Gpu.Training;
using MarketIntel.Tests;
using MarketIntel.Training;
using MarketIntel.Training.Devices;
using MarketIntel.Training.Drift;
using MarketIntel.Training.Retraining;

namespace MarketIntel.Gpu.Tests.Training;

/// <summary>
/// A retraining job whose device fails mid-job (a device on ILGPU's CPU accelerator whose step throws after N launches)
/// trains again on the CPU from its start and answers exactly what a CPU-only job answers on the same bars and plan;
/// a cancellation is never a device failure.
/// </summary>
public sealed class DeviceFallbackTests(CpuAcceleratorFixture cpu) : IClassFixture<CpuAcceleratorFixture>
{
    private static readonly RetrainPlan Plan = new("direction", "rsi_5,roc_3,zscore_10", new LabelDefinition(LabelKind.Direction, 2),
        BoostParameters.ForLabel(LabelKind.Direction) with { Rounds = 6, MaxDepth = 3, Threads = 1 }, 2, ProfileBuilder.DefaultBins, "v0", "marketintel retrain (job test)");

    private static readonly AssetBars[] Bars = [WalkBars.Walk("AAA", 260, seed: 3, startDay: 0)];

    [Fact]
    public void A_device_that_fails_mid_job_or_at_its_first_launch_leaves_the_job_to_the_cpu_with_a_cpu_only_jobs_bytes_and_scores()
    {
        RetrainOutput onCpu = RetrainPipeline.Run(Plan, Bars, null, CancellationToken.None);
        using var gpu = new GpuTrainingDevice(cpu.Device);

        // A whole job on the device, to count its launches.
        var counting = new FaultyTrainingDevice(gpu);
        RetrainPipeline.Run(Plan, Bars, null, CancellationToken.None, counting, _ => Assert.Fail("a healthy device failed"));
        int launches = counting.Launches;
        Assert.True(launches > 50, $"{launches} launches");

        // Three quarters in: past both folds' models, inside the final one.
        foreach (int failAfter in (int[])[0, launches * 3 / 4])
        {
            var faulty = new FaultyTrainingDevice(gpu) { FailAfter = failAfter };
            var heard = new List<TrainingDeviceException>();
            var steps = new RecordedSteps();
            RetrainOutput output = RetrainPipeline.Run(Plan, Bars, steps, CancellationToken.None, faulty, heard.Add);

            Assert.Equal(onCpu.Model, output.Model);
            Assert.Equal((onCpu.Version, onCpu.Lineage, onCpu.Rows), (output.Version, output.Lineage, output.Rows));
            Assert.Equal(onCpu.Validation, output.Validation);
            TrainingDeviceException failure = Assert.Single(heard);
            Assert.Equal(gpu.Device, failure.Device);
            Assert.Equal($"InvalidOperationException: {FaultyTrainingDevice.Injected(failAfter + 1)}", failure.Error);
            Assert.Equal($"device {gpu.Device} failed: {failure.Error}", failure.Message);
            // No step ran on the device after the one that failed, and the device is free for the next job.
            Assert.Equal(failAfter + 1, faulty.Launches);
            Assert.False(gpu.Busy);
            // Progress started again from the first fold, and ended at the totals. (On data this small the device's models
            // happen to equal the CPU's, so the bytes alone would not show that the folds trained again.)
            int restart = steps.Seen.FindLastIndex(s => s.FoldsDone == 0);
            Assert.True(restart > 0, "no restart reported");
            // Mid-job, both folds' models had trained on the device before it failed.
            Assert.Equal(failAfter == 0 ? 0 : 2, steps.Seen.Take(restart).Max(s => s.FoldsDone));
            Assert.Equal((2, 2, 6, 6), (steps.Seen[^1].FoldsDone, steps.Seen[^1].Folds, steps.Seen[^1].RoundsDone, steps.Seen[^1].Rounds));
        }
    }

    [Fact]
    public void A_job_cancelled_on_the_device_is_cancelled_not_moved_to_the_cpu()
    {
        using var gpu = new GpuTrainingDevice(cpu.Device);
        var faulty = new FaultyTrainingDevice(gpu);
        using var stop = new CancellationTokenSource();
        var steps = new RecordedSteps { Then = s => { if (s.FoldsDone == 1) stop.Cancel(); } };
        Assert.Throws<OperationCanceledException>(() => RetrainPipeline.Run(Plan, Bars, steps, stop.Token, faulty, _ => Assert.Fail("a cancellation counted as a device failure")));
        Assert.DoesNotContain(steps.Seen, s => s.FoldsDone == 2);
        Assert.Equal(1, faulty.Takes);
        Assert.False(gpu.Busy);
    }

    [Fact]
    public async Task A_device_that_fails_while_its_job_is_being_cancelled_leaves_a_cancelled_job()
    {
        using var gpu = new GpuTrainingDevice(cpu.Device);
        // The 21st step waits while the job is cancelled, then throws.
        var faulty = new FaultyTrainingDevice(gpu) { FailAfter = 20, PauseAt = 21 };
        using var stop = new CancellationTokenSource();
        var heard = new List<TrainingDeviceException>();
        Task<RetrainOutput> job = Task.Run(() => RetrainPipeline.Run(Plan, Bars, null, stop.Token, faulty, heard.Add));
        faulty.Paused.Wait();
        await stop.CancelAsync();
        faulty.Release.Set();
        await Assert.ThrowsAsync<OperationCanceledException>(() => job);
        Assert.Empty(heard);
        Assert.Equal(21, faulty.Launches);
        Assert.False(gpu.Busy);
    }
}
