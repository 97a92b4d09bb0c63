using MarketIntel.Gpu.Devices;
using MarketIntel.Tests;

namespace MarketIntel.Cli.Tests;

/// <summary><c>backtest --device</c>: the fold predictions in one batch on a device, reported at start, with the same scores as the CPU path.</summary>
public sealed class BacktestDeviceTests : CliTestBase
{
    private static string[] Backtest(string report, params string[] extra) =>
        ["backtest", "--data", RepoPaths.Data("msft-daily.csv"), "--spec", "rsi_14,roc_10", "--horizon", "1", "--train-rows", "120",
            "--test-rows", "37", "--rounds", "15", "--report", report, .. extra];

    [Fact]
    public void The_kernels_on_the_cpu_accelerator_score_the_model_as_the_default_cpu_path_does()
    {
        var (code, cpu, stderr) = Run(Backtest(Path.Combine(Dir, "cpu")));
        Assert.True(code == 0, stderr);
        (code, string kernels, stderr) = Run(Backtest(Path.Combine(Dir, "kernels"), "--device", "cpu"));
        Assert.True(code == 0, stderr);

        // Without a GPU the default is the CPU code path, and says so; --device cpu says it is the ILGPU accelerator.
        if (GpuDevice.Open(DeviceChoice.Auto) is { } gpu)
        {
            using (gpu)
            {
                Assert.Contains($"device: {gpu.Description}", cpu, StringComparison.Ordinal);
            }
        }
        else
        {
            Assert.Contains($"device: cpu:{Environment.ProcessorCount} (no CUDA device chosen: the CPU code paths)", cpu, StringComparison.Ordinal);
        }
        Assert.Contains("device: ilgpu-cpu:", kernels, StringComparison.Ordinal);
        // The model's row (accuracy, p-values, AUC, log loss to 4 places, returns) is the same: the batch's
        // probabilities differ from the CPU path's by float rounding only.
        Assert.Equal(ModelRow(cpu), ModelRow(kernels));
    }

    [Fact]
    public void An_unknown_device_or_cuda_without_a_cuda_device_is_a_usage_error_before_any_output()
    {
        var (code, _, stderr) = Run(Backtest(Path.Combine(Dir, "r"), "--device", "tpu"));
        Assert.Equal(2, code);
        Assert.Contains("option '--device': 'tpu' is not a device; use cuda, cpu or auto", stderr, StringComparison.Ordinal);
        using GpuDevice? gpu = GpuDevice.Open(DeviceChoice.Auto);
        if (gpu is null)
        {
            (code, _, stderr) = Run(Backtest(Path.Combine(Dir, "r"), "--device", "cuda"));
            Assert.Equal(2, code);
            Assert.Contains("no CUDA device found", stderr, StringComparison.Ordinal);
        }
        Assert.False(Directory.Exists(Path.Combine(Dir, "r")));
    }

    private static string ModelRow(string stdout) =>
        stdout.Split('\n').Single(l => l.StartsWith("| model |", StringComparison.Ordinal));
}
