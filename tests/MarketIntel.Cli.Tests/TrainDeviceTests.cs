using MarketIntel.Gpu.Devices;
using MarketIntel.Inference;
using MarketIntel.Tests;

namespace MarketIntel.Cli.Tests;

/// <summary><c>train --device</c>: histograms and partitions on a device, reported at start; the model close to the CPU path's and the same every run.</summary>
public sealed class TrainDeviceTests : CliTestBase
{
    private string[] Train(string output, params string[] extra) =>
        ["train", "--input", Data(), "--label", "up", "--max-depth", "4", "--rounds", "12", "--output", output, .. extra];

    private string Data()
    {
        string path = Path.Combine(Dir, "train.csv");
        if (!File.Exists(path))
        {
            var random = new Random(3);
            File.WriteAllLines(path, ["a,b,up", .. Enumerable.Range(0, 1500).Select(_ =>
            {
                double a = random.NextDouble(), b = random.NextDouble();
                string cellA = random.NextDouble() < 0.05 ? "" : a.ToString("F4", System.Globalization.CultureInfo.InvariantCulture);
                return $"{cellA},{b.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)},{(a + 0.5 * b + 0.4 * random.NextDouble() > 0.9 ? 1 : 0)}";
            })]);
        }
        return path;
    }

    [Fact]
    public void The_kernels_on_the_cpu_accelerator_train_a_model_that_predicts_as_the_cpu_paths_and_is_the_same_each_run()
    {
        string cpuModel = Path.Combine(Dir, "cpu.json"), deviceModel = Path.Combine(Dir, "device.json"), again = Path.Combine(Dir, "again.json");
        var (code, cpu, stderr) = Run(Train(cpuModel));
        Assert.True(code == 0, stderr);
        (code, string kernels, stderr) = Run(Train(deviceModel, "--device", "cpu"));
        Assert.True(code == 0, stderr);
        (code, _, stderr) = Run(Train(again, "--device", "cpu"));
        Assert.True(code == 0, stderr);

        if (GpuDevice.Open(DeviceChoice.Auto) is { } gpu)
        {
            gpu.Dispose();
        }
        else
        {
            Assert.Contains($"device: cpu:{Environment.ProcessorCount} (no CUDA device chosen: the CPU code paths)", cpu, StringComparison.Ordinal);
        }
        Assert.Contains("device: ilgpu-cpu:", kernels, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(deviceModel), File.ReadAllBytes(again));

        // Fixed-point histograms can move a near-tie between splits, so predictions are compared loosely.
        using Model a = Model.LoadFile(cpuModel), b = Model.LoadFile(deviceModel);
        var random = new Random(9);
        float[] outA = new float[1], outB = new float[1];
        double worst = 0;
        for (int i = 0; i < 200; i++)
        {
            float[] row = [(float)random.NextDouble(), (float)random.NextDouble()];
            a.Predict(row, outA);
            b.Predict(row, outB);
            worst = Math.Max(worst, Math.Abs(outA[0] - outB[0]));
        }
        Assert.True(worst < 0.02, $"largest difference in probability {worst}");
    }

    [Fact]
    public void An_unknown_device_is_a_usage_error_and_writes_no_model()
    {
        string model = Path.Combine(Dir, "m.json");
        var (code, _, stderr) = Run(Train(model, "--device", "tpu"));
        Assert.Equal(2, code);
        Assert.Contains("option '--device': 'tpu' is not a device; use cuda, cpu or auto", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(model));
    }
}
