namespace MarketIntel.Gpu.Tests.Training;

/// <summary>Small synthetic training sets: a few informative features, noise, and missing values.</summary>
internal static class TrainingData
{
    /// <summary>
    /// <paramref name="rows"/> x <paramref name="features"/> values (row-major, about 5% missing), a binary label
    /// and a regression label that both depend on the first three features.
    /// </summary>
    public static (float[] X, float[] Binary, float[] Regression, string[] Names) Make(int rows, int features, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * features];
        var binary = new float[rows];
        var regression = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            for (int f = 0; f < features; f++)
            {
                x[r * features + f] = random.NextDouble() < 0.05 ? float.NaN : (float)(random.NextDouble() * 2 - 1);
            }
            double Value(int f) => f < features && !float.IsNaN(x[r * features + f]) ? x[r * features + f] : 0.3;
            double signal = 2 * Value(0) - 1.5 * Value(1) * Value(2) + (Value(1) > 0.2 ? 1 : 0);
            double noise = random.NextDouble() - 0.5;
            regression[r] = (float)(signal + noise);
            binary[r] = signal + noise > 0.3 ? 1 : 0;
        }
        string[] names = Enumerable.Range(0, features).Select(f => $"f{f}").ToArray();
        return (x, binary, regression, names);
    }
}
