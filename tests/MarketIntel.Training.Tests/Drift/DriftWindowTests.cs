using MarketIntel.Training.Drift;

namespace MarketIntel.Training.Tests.Drift;

/// <summary>The sliding window's counts against a batch recount, and the bins values fall in.</summary>
public sealed class DriftWindowTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100)]
    [InlineData(5000)]   // longer than the data: the window never fills
    public void Window_counts_equal_a_batch_recount_of_the_last_W_values_after_every_value(int length)
    {
        var random = new Random(length);
        // Series with 1, 3, 20 and 40 bins, some values missing, some outside the reference's extent.
        FeatureReference[] series =
        [
            ProfileBuilder.Reference("constant", [5f, 5f, 5f]),
            ProfileBuilder.Reference("few", [.. Enumerable.Range(0, 300).Select(i => (float)(i % 3))]),
            ProfileBuilder.Reference("normal", Values(random, 5000, 0.1)),
            ProfileBuilder.Reference("wide", Values(random, 5000, 0), bins: 40),
        ];
        Assert.Equal([1, 3, 20, 40], series.Select(s => s.Bins));
        var window = new DriftWindow(series, length);
        const int Steps = 1200;
        var history = new float[Steps][];
        for (int t = 0; t < Steps; t++)
        {
            history[t] = [.. series.Select(_ => random.NextDouble() < 0.15 ? float.NaN : (float)(3 * Normal(random)))];
            window.Add(history[t]);
            int first = Math.Max(0, t + 1 - length);
            Assert.Equal(t + 1 - first, window.Count);
            for (int s = 0; s < series.Length; s++)
            {
                var expected = new int[series[s].Bins];
                int missing = 0;
                for (int r = first; r <= t; r++)
                {
                    float value = history[r][s];
                    if (float.IsNaN(value))
                    {
                        missing++;
                    }
                    else
                    {
                        expected[series[s].Edges.Count(e => e <= value)]++;
                    }
                }
                Assert.True(expected.AsSpan().SequenceEqual(window.Counts(s)), $"step {t}, series {series[s].Name}: counts differ from a recount");
                Assert.Equal(missing, window.Missing(s));
            }
        }
        window.Clear();
        Assert.Equal(0, window.Count);
        Assert.All(Enumerable.Range(0, series.Length), s => Assert.True(window.Counts(s).IndexOfAnyExcept(0) < 0 && window.Missing(s) == 0));
    }

    [Fact]
    public void A_row_of_the_wrong_width_is_refused_and_leaves_the_counts_as_they_were()
    {
        FeatureReference reference = ProfileBuilder.Reference("f", [1f, 2f, 3f, 4f], bins: 4);
        var window = new DriftWindow([reference, reference], 3);
        window.Add([1f, 4f]);
        int[] before = [.. window.Counts(0), .. window.Counts(1)];
        Assert.Contains("3 values for 2 series", Assert.Throws<ArgumentException>(() => window.Add([1f, 2f, 3f])).Message, StringComparison.Ordinal);
        Assert.Equal(before, (int[])[.. window.Counts(0), .. window.Counts(1)]);
        Assert.Equal(1, window.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DriftWindow([reference], 0));
    }

    [Fact]
    public void A_value_falls_in_the_bin_whose_lower_edge_it_reaches_and_infinities_in_the_outer_bins()
    {
        var reference = new FeatureReference("f", [-1f, 0f, 2.5f], [1, 1, 1, 1], 0, -3f, 4f);
        Assert.Equal(-1, reference.Bin(float.NaN));
        Assert.Equal(0, reference.Bin(float.NegativeInfinity));
        Assert.Equal(0, reference.Bin(-1.0000001f));
        Assert.Equal(1, reference.Bin(-1f));
        Assert.Equal(2, reference.Bin(0f));
        Assert.Equal(2, reference.Bin(-0f));
        Assert.Equal(2, reference.Bin(2.4999998f));
        Assert.Equal(3, reference.Bin(2.5f));
        Assert.Equal(3, reference.Bin(float.PositiveInfinity));
    }

    [Fact]
    public void The_bin_of_every_value_equals_a_count_of_the_edges_at_or_below_it_for_every_number_of_edges()
    {
        var random = new Random(5);
        for (int bins = 1; bins <= 60; bins++)
        {
            FeatureReference reference = ProfileBuilder.Reference("f", Values(random, 4000, 0), bins);
            for (int i = 0; i < 500; i++)
            {
                float value = i % 7 == 0 && reference.Edges.Length > 0 ? reference.Edges[random.Next(reference.Edges.Length)] : (float)(4 * Normal(random));
                Assert.Equal(reference.Edges.Count(e => e <= value), reference.Bin(value));
            }
        }
    }

    internal static float[] Values(Random random, int count, double missing) =>
        [.. Enumerable.Range(0, count).Select(_ => random.NextDouble() < missing ? float.NaN : (float)Normal(random))];

    internal static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
