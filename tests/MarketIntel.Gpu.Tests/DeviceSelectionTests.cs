using MarketIntel.Gpu.Devices;

namespace MarketIntel.Gpu.Tests;

public sealed class DeviceSelectionTests
{
    [Theory]
    [InlineData("auto", DeviceChoice.Auto)]
    [InlineData("CUDA", DeviceChoice.Cuda)]
    [InlineData("cpu", DeviceChoice.Cpu)]
    public void Device_names_are_read_case_insensitively(string value, DeviceChoice expected) =>
        Assert.Equal(expected, GpuDevice.ParseChoice(value));

    [Fact]
    public void An_unknown_device_name_is_refused_naming_the_flag_and_the_value()
    {
        var error = Assert.Throws<ArgumentException>(() => GpuDevice.ParseChoice("tpu"));
        Assert.Contains("--device", error.Message, StringComparison.Ordinal);
        Assert.Contains("'tpu'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_cpu_choice_opens_the_ilgpu_cpu_accelerator_and_says_so()
    {
        using var device = GpuDevice.Open(DeviceChoice.Cpu);
        Assert.NotNull(device);
        Assert.False(device.IsCuda);
        Assert.StartsWith("ilgpu-cpu:", device.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_and_cuda_agree_on_whether_this_machine_has_a_cuda_device()
    {
        // CI machines have no GPU (auto: null, cuda: a clear error); on a GPU machine both open it.
        using var auto = GpuDevice.Open(DeviceChoice.Auto);
        if (auto is null)
        {
            var error = Assert.Throws<InvalidOperationException>(() => GpuDevice.Open(DeviceChoice.Cuda));
            Assert.Contains("no CUDA device", error.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.True(auto.IsCuda);
            Assert.StartsWith("cuda:", auto.Description, StringComparison.Ordinal);
        }
    }
}
