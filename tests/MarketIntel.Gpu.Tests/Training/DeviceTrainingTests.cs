using System.Text;
using MarketIntel.Gpu.Training;
using MarketIntel.Training;

namespace MarketIntel.Gpu.Tests.Training;

/// <summary>
/// Whole models trained through the device seam on ILGPU's CPU accelerator: within the 0.5% of the CPU
/// path's test loss, and the same model, byte for byte, every time.
/// </summary>
public sealed class DeviceTrainingTests(CpuAcceleratorFixture cpu) : IClassFixture<CpuAcceleratorFixture>
{
    [Theory]
    [InlineData("binary:logistic", 4, 0.3, 25)]
    [InlineData("reg:squarederror", 3, 0.2, 25)]
    public void A_model_trained_on_the_device_is_within_half_a_percent_of_the_cpu_models_test_loss(string objective, int depth, double eta, int rounds)
    {
        const int rows = 4000, train = 3000, features = 6;
        var (x, binary, regression, names) = TrainingData.Make(rows, features, seed: depth + rounds);
        float[] y = objective == "binary:logistic" ? binary : regression;
        var parameters = new BoostParameters { Objective = objective, MaxDepth = depth, Eta = eta, Rounds = rounds, Threads = 2 };
        BoostedTrees onCpu = GradientBooster.Train(x.AsSpan(0, train * features), names, y.AsSpan(0, train), parameters);
        BoostedTrees onDevice;
        using (var device = new GpuHistogramDevice(cpu.Device.Accelerator))
        {
            onDevice = GradientBooster.Train(x.AsSpan(0, train * features), names, y.AsSpan(0, train), parameters, device: device);
        }
        double cpuLoss = Loss(objective, onCpu, x, y, train, rows, features);
        double deviceLoss = Loss(objective, onDevice, x, y, train, rows, features);
        Assert.True(Math.Abs(deviceLoss - cpuLoss) <= 0.005 * cpuLoss, $"{objective}: device test loss {deviceLoss:F6}, CPU {cpuLoss:F6}");
        Assert.Equal(rounds, onDevice.Trees.Count);
    }

    [Theory]
    [InlineData("binary:logistic")]
    [InlineData("reg:squarederror")]
    public void Where_fixed_point_loses_nothing_the_device_grows_the_cpu_paths_tree_exactly(string objective)
    {
        // The first round's gradients are 0.5 - y (h 0.25 or 1): with labels in quarters they and all their sums are
        // exact in double and in fixed point, so both paths see the same histograms and must make the same tree,
        // node for node (numbering, default directions, weights, gains).
        var (x, binary, regression, names) = TrainingData.Make(3000, 6, seed: 21);
        float[] y = objective == "binary:logistic" ? binary : [.. regression.Select(v => MathF.Round(v * 4) / 4)];
        var parameters = new BoostParameters { Objective = objective, MaxDepth = 6, Rounds = 1, Subsample = 0.8, ColsampleBytree = 0.7, Seed = 4, Threads = 2 };
        (string Json, int Nodes) Train(GpuHistogramDevice? device)
        {
            using var stream = new MemoryStream();
            BoostedTrees model = GradientBooster.Train(x, names, y, parameters, device: device);
            model.WriteXgboostJson(stream);
            return (Encoding.UTF8.GetString(stream.ToArray()), model.Trees[0].Nodes);
        }
        using var device = new GpuHistogramDevice(cpu.Device.Accelerator);
        var onDevice = Train(device);
        Assert.Equal(Train(null).Json, onDevice.Json);
        Assert.True(onDevice.Nodes > 40, $"a tree of {onDevice.Nodes} nodes");   // a deep tree, not a stump
    }

    [Fact]
    public void The_same_data_and_seed_give_the_same_model_on_every_run_with_row_and_feature_sampling()
    {
        var (x, y, _, names) = TrainingData.Make(2500, 5, seed: 7);
        var parameters = new BoostParameters { MaxDepth = 5, Rounds = 8, Subsample = 0.7, ColsampleBytree = 0.6, Seed = 3, Threads = 2 };
        string Json()
        {
            using var device = new GpuHistogramDevice(cpu.Device.Accelerator);
            using var stream = new MemoryStream();
            GradientBooster.Train(x, names, y, parameters, device: device).WriteXgboostJson(stream);
            return Encoding.UTF8.GetString(stream.ToArray());
        }
        string first = Json();
        Assert.Equal(first, Json());
        Assert.Contains("\"split_indices\"", first, StringComparison.Ordinal);
    }

    [Fact]
    public void One_row_trains_a_single_leaf_as_on_the_cpu()
    {
        string Json(GpuHistogramDevice? device)
        {
            using var stream = new MemoryStream();
            GradientBooster.Train([0.5f, float.NaN], ["a", "b"], [1f], new BoostParameters { Rounds = 2, Threads = 1 }, device: device).WriteXgboostJson(stream);
            return Encoding.UTF8.GetString(stream.ToArray());
        }
        using var device = new GpuHistogramDevice(cpu.Device.Accelerator);
        Assert.Equal(Json(null), Json(device));
    }

    private static double Loss(string objective, BoostedTrees model, float[] x, float[] y, int from, int to, int features)
    {
        double sum = 0;
        for (int r = from; r < to; r++)
        {
            double p = model.Predict(x.AsSpan(r * features, features));
            sum += objective == "binary:logistic"
                ? -(y[r] * Math.Log(Math.Max(p, 1e-15)) + (1 - y[r]) * Math.Log(Math.Max(1 - p, 1e-15)))
                : (p - y[r]) * (p - y[r]);
        }
        return sum / (to - from);
    }
}
