using MarketIntel.Gpu.Training;
using MarketIntel.Training;

namespace MarketIntel.Gpu.Tests.Training;

/// <summary>
/// The margins and gradients the device keeps across rounds (on ILGPU's CPU accelerator): the margins are the
/// trained model's own, to the bit, and the gradients are the booster's CPU formulas of them.
/// </summary>
public sealed class DeviceGradientTests(CpuAcceleratorFixture cpu) : IClassFixture<CpuAcceleratorFixture>
{
    [Theory]
    [InlineData("binary:logistic")]
    [InlineData("reg:squarederror")]
    public void After_training_every_rows_margin_on_the_device_is_the_models_margin_and_its_gradients_the_cpu_formulas(string objective)
    {
        const int rows = 2000, features = 5;
        var (x, binary, regression, names) = TrainingData.Make(rows, features, seed: 13);
        float[] y = objective == "binary:logistic" ? binary : regression;
        // Row sampling leaves rows out of the partition: their margins must move all the same.
        var parameters = new BoostParameters { Objective = objective, MaxDepth = 4, Rounds = 6, Subsample = 0.7, ColsampleBytree = 0.8, Seed = 2, Threads = 2 };
        using var device = new GpuHistogramDevice(cpu.Device.Accelerator);
        BoostedTrees model = GradientBooster.Train(x, names, y, parameters, device: device);

        double[] margins = device.Margins();
        double baseMargin = objective == "binary:logistic" ? 0 : 0.5;   // from the base score of 0.5
        int moved = 0;
        for (int r = 0; r < rows; r++)
        {
            double expected = model.Margin(x.AsSpan(r * features, features));
            Assert.Equal(expected, margins[r]);
            moved += Math.Abs(margins[r] - baseMargin) > 1e-3 ? 1 : 0;
        }
        Assert.True(moved > rows / 2, $"only {moved} of {rows} margins moved from the base: the trees did not reach them");

        // A further tree's gradients, from those margins, against the booster's CPU formulas in double.
        QuantizedMatrix q = QuantizedMatrix.Build(x, features, parameters.MaxBin, threads: 1);
        device.StartTree(null, rows, new double[2 * Enumerable.Range(0, features).Sum(q.BinCount)]);
        float[] pairs = device.GradientPairs();
        int exact = 0;
        for (int r = 0; r < rows; r++)
        {
            float g, h;
            if (objective == "binary:logistic")
            {
                double p = 1 / (1 + Math.Exp(-margins[r]));
                (g, h) = ((float)(p - y[r]), (float)Math.Max(p * (1 - p), 1e-16));
            }
            else
            {
                (g, h) = ((float)(margins[r] - y[r]), 1f);
            }
            // The kernel's exponential is within one ulp of Math.Exp in double: after rounding to float the pair is
            // the same, or one float ulp apart where that last bit crosses a rounding boundary.
            Assert.True(FloatUlps(g, pairs[2 * r]) <= 1 && FloatUlps(h, pairs[2 * r + 1]) <= 1, $"row {r}: CPU ({g:R}, {h:R}), device ({pairs[2 * r]:R}, {pairs[2 * r + 1]:R})");
            exact += g == pairs[2 * r] && h == pairs[2 * r + 1] ? 1 : 0;
        }
        Assert.True(objective == "binary:logistic" ? exact >= 0.99 * rows : exact == rows, $"{exact} of {rows} pairs equal to the bit");
    }

    [Fact]
    public void Training_calls_out_of_order_or_with_the_wrong_labels_are_refused_by_name()
    {
        var (x, y, _, _) = TrainingData.Make(10, 2, seed: 1);
        QuantizedMatrix q = QuantizedMatrix.Build(x, 2, 16, threads: 1);
        var hist = new double[2 * (q.BinCount(0) + q.BinCount(1))];
        using var device = new GpuHistogramDevice(cpu.Device.Accelerator);
        Assert.Contains("before Load", Assert.Throws<InvalidOperationException>(() => device.StartTraining(y, logistic: true, 0)).Message);
        device.Load(q);
        Assert.Contains("before StartTraining", Assert.Throws<InvalidOperationException>(() => device.StartTree(null, 10, hist)).Message);
        Assert.Contains("before StartTraining", Assert.Throws<InvalidOperationException>(() => device.FinishTree(new RegressionTree())).Message);
        Assert.Contains("10 rows; got 9 labels", Assert.Throws<ArgumentException>(() => device.StartTraining(y.AsSpan(1), logistic: true, 0)).Message);
        device.StartTraining(y, logistic: true, 0);
        device.StartTree(null, 10, hist);
        // Margins of 0: every hessian is 1/4, and feature 0's slots hold every row once.
        Assert.Equal(10 * 0.25, Enumerable.Range(0, q.BinCount(0)).Sum(s => hist[2 * s + 1]), 12);
    }

    private static long FloatUlps(float a, float b) => Math.Abs((long)BitConverter.SingleToInt32Bits(a) - BitConverter.SingleToInt32Bits(b));
}
