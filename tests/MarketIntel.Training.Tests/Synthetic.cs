namespace MarketIntel.Training.Tests;

/// <summary>Generated classification and regression data with known structure, some values missing.</summary>
internal static class Synthetic
{
    /// <summary>Row-major features (some NaN), binary labels from a noisy non-linear rule, and regression targets.</summary>
    public static (float[] X, float[] Binary, float[] Regression, string[] Names) Make(int rows, int features, int seed, double missing = 0.05)
    {
        var random = new Random(seed);
        var x = new float[rows * features];
        var yb = new float[rows];
        var yr = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            for (int f = 0; f < features; f++)
            {
                x[r * features + f] = random.NextDouble() < missing ? float.NaN : (float)Normal(random);
            }
            double V(int f) => float.IsNaN(x[r * features + f]) ? 0.5 : x[r * features + f];
            double signal = 1.2 * V(0) - 0.8 * V(1) * V(2) + (V(3) > 0.3 ? 0.9 : -0.4) + 0.5 * Math.Sin(2 * V(4)) + (float.IsNaN(x[r * features + 5 % features]) ? 1.0 : 0);
            double noise = Normal(random);
            yb[r] = signal + noise > 0.3 ? 1f : 0f;
            yr[r] = (float)(signal + 0.5 * noise);
        }
        return (x, yb, yr, Enumerable.Range(0, features).Select(f => $"f{f}").ToArray());
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
