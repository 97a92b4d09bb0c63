namespace MarketIntel.Training.Tests;

/// <summary>Binning: the bin rule, one byte a bin up to max_bin 256, and what that costs a feature with missing values.</summary>
public sealed class QuantizedMatrixTests
{
    [Theory]
    [InlineData(256)]
    [InlineData(300)]   // two bytes a bin
    [InlineData(16)]
    public void Every_value_is_in_bin_one_plus_its_cuts_at_or_below_it_and_missing_in_bin_0(int maxBin)
    {
        const int rows = 5000, features = 3;
        var random = new Random(3);
        var x = new float[rows * features];
        for (int r = 0; r < rows; r++)
        {
            x[r * features] = (float)random.NextDouble();                                          // nothing missing
            x[r * features + 1] = r % 7 == 0 ? float.NaN : (float)(random.NextDouble() - 0.5);     // some missing
            x[r * features + 2] = r % 5 == 0 ? float.NaN : random.Next(10);                       // few distinct values
        }
        QuantizedMatrix q = QuantizedMatrix.Build(x, features, maxBin, threads: 2);

        // A byte holds 256 value bins when nothing is missing, else the missing bin and 255 value bins.
        Assert.Equal(maxBin - 1, q.Cuts[0].Length);
        Assert.Equal(maxBin <= 256 ? Math.Min(maxBin, 255) - 1 : maxBin - 1, q.Cuts[1].Length);
        Assert.Equal(9, q.Cuts[2].Length);   // every distinct value its own bin
        Assert.Equal(1, q.BinBase(0));
        Assert.Equal(0, q.BinBase(1));
        for (int f = 0; f < features; f++)
        {
            float[] cuts = q.Cuts[f];
            Assert.True(cuts.Zip(cuts.Skip(1)).All(p => p.First < p.Second), "cuts ascend");
            for (int r = 0; r < rows; r++)
            {
                float v = x[r * features + f];
                int expected = float.IsNaN(v) ? 0 : 1 + cuts.Count(c => c <= v);
                Assert.Equal(expected, q.Bin(r, f));
            }
        }
    }
}
