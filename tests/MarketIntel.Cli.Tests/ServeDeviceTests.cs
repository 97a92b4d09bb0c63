using MarketIntel.Gpu.Devices;
using MarketIntel.Server.Hosting;

namespace MarketIntel.Cli.Tests;

/// <summary><c>serve --device</c>: the device a silo that runs jobs advertises in its metadata and banner.</summary>
public sealed class ServeDeviceTests : CliTestBase
{
    [Fact]
    public void The_device_flag_sets_the_device_setting_and_the_usage_names_it()
    {
        Assert.Equal("cpu", Commands.ServeCommand.Overrides(["--device", "cpu"])["MarketIntel:Device"]);
        Assert.DoesNotContain("MarketIntel:Device", Commands.ServeCommand.Overrides([]).Keys);
        Assert.Contains("[--device cuda|cpu|auto]", Commands.ServeCommand.Usage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_worker_advertises_the_accelerator_it_chose_and_a_serving_silo_its_cores()
    {
        var worker = GridSiloHosting.WorkerDeviceFor(new ServerOptions { Role = "worker", Device = "cpu" }, maxJobs: null);
        Assert.StartsWith("ilgpu-cpu:", worker.Device, StringComparison.Ordinal);
        Assert.Equal(1, worker.JobSlots);
        Assert.Equal(3, GridSiloHosting.WorkerDeviceFor(new ServerOptions { Role = "all", Device = "cpu" }, maxJobs: 3).JobSlots);
        // A serving silo runs no job: it opens no device, whatever the setting says.
        Assert.Equal($"cpu:{Environment.ProcessorCount}", GridSiloHosting.WorkerDeviceFor(new ServerOptions { Role = "serving", Device = "cpu" }, null).Device);

        // auto: the GPU where there is one, else the cores exactly as before; cuda without one stops the start.
        using GpuDevice? gpu = GpuDevice.Open(DeviceChoice.Auto);
        var auto = GridSiloHosting.WorkerDeviceFor(new ServerOptions { Role = "worker" }, null);
        if (gpu is null)
        {
            Assert.Equal(Grains.Placement.WorkerDevice.ThisMachine(), auto);
            var error = Assert.Throws<ServerConfigurationException>(() => GridSiloHosting.WorkerDeviceFor(new ServerOptions { Role = "worker", Device = "cuda" }, null));
            Assert.Contains("no CUDA device found", error.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(gpu.Description, auto.Device);
        }
    }

    [Fact]
    public void A_device_that_is_not_a_choice_stops_the_start_naming_the_setting()
    {
        var (code, _, err) = Run("serve", "--role", "worker", "--device", "tpu");
        Assert.Equal(2, code);
        Assert.Contains("MarketIntel:Device: 'tpu' is not a device; use cuda, cpu or auto", err, StringComparison.Ordinal);
    }
}
