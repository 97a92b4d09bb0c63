using MarketIntel.Gpu.Devices;
using MarketIntel.Gpu.Training;
using MarketIntel.Grains.Retraining;
using MarketIntel.Tests;
using MarketIntel.Training.Devices;
using Microsoft.Extensions.Logging;

namespace MarketIntel.Grains.Tests;

/// <summary>
/// A silo's training device: used until it fails, then out of use with one warning a failure naming the device and
/// its error; a silo without one trains on the CPU and says nothing.
/// </summary>
public sealed class SiloTrainingDeviceTests
{
    [Fact]
    public void A_failed_device_is_out_of_use_with_a_warning_naming_it_and_its_error_and_a_silo_without_one_trains_on_the_cpu()
    {
        using GpuDevice gpu = GpuDevice.Open(DeviceChoice.Cpu)!;
        using var training = new GpuTrainingDevice(gpu);
        var log = new RecordingLogger<SiloTrainingDevice>();
        var devices = new SiloTrainingDevice(log, training);
        Assert.Equal((training, $" on device {gpu.Description}"), devices.Choose());

        var launch = new InvalidOperationException(FaultyTrainingDevice.Injected(7));
        devices.Failed("m", "job-1", TrainingDeviceException.Of(training.Device, launch));
        string error = $"InvalidOperationException: {FaultyTrainingDevice.Injected(7)}";
        var warning = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal($"Model 'm': retraining job job-1 failed on device {gpu.Description} ({error}); it trains again on the CPU from its start, " +
            "and the device is out of use until the silo restarts", warning.Message);
        Assert.Same(launch, warning.Exception);
        Assert.Equal((null, $" on the CPU (device {gpu.Description} is out of use since it failed: {error}; restart the worker to use it again)"), devices.Choose());

        // A later failure (a job that took the device before the first failed) is counted and logged; the first stays the reason.
        devices.Failed("m", "job-2", TrainingDeviceException.Of(training.Device, new InvalidOperationException("out of device memory")));
        Assert.Equal((2L, error), (devices.Fallbacks, devices.Failure!.Error));
        Assert.Equal(2, log.Entries.Count);

        var none = new SiloTrainingDevice(log);
        Assert.Equal((null, ""), none.Choose());
    }
}
