using System.Globalization;
using MarketIntel.Tests;
using MarketIntel.Training.Statistics;

namespace MarketIntel.Training.Tests;

/// <summary>
/// The promotion gate's statistics against SciPy (tests/fixtures/statistics/scipy_reference.py, Debian's python3-scipy):
/// the exact binomial test behind McNemar's and Student's t; the Diebold-Mariano test is checked through the gate,
/// from the tallies the grid keeps (MarketIntel.Grains.Tests).
/// </summary>
public sealed class StatisticsTests
{
    private static readonly string Script = RepoPaths.Fixture("statistics", "scipy_reference.py");

    [Fact]
    public void Two_sided_binomial_p_values_equal_scipys_binomtest_for_small_large_and_lopsided_counts()
    {
        var cases = new List<(long K, long N, double P)>();
        // McNemar's cases: c successes in b + c discordant pairs at p = 1/2.
        (long B, long C)[] discordant =
        [
            (0, 1), (1, 0), (0, 5), (5, 0), (3, 7), (7, 3), (10, 10), (10, 11), (11, 10), (1, 2), (2, 2), (0, 40),
            (50, 80), (80, 50), (500, 560), (1000, 1100), (5000, 5200), (12_000, 12_400), (100_000, 101_000),
            (250_000, 251_500), (1, 200), (0, 1000), (3, 1000), (998, 2), (40, 4000), (1_000_000, 1_003_000), (7, 3_000_000),
        ];
        cases.AddRange(discordant.Select(d => (d.C, d.B + d.C, 0.5)));
        // The same rule at other probabilities, where the two tails are not mirror images.
        cases.AddRange([(3, 10, 0.3), (7, 20, 0.7), (25, 100, 0.3), (40, 100, 0.3), (0, 50, 0.1), (50, 50, 0.9), (130, 1000, 0.1), (9, 12, 0.25)]);
        string input = string.Join('\n', cases.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.K} {c.N} {c.P:R}")));
        string[] expected = PythonReference.Run(Script, ["binomtest"], input);
        Assert.Equal(cases.Count, expected.Length);
        for (int i = 0; i < cases.Count; i++)
        {
            (long k, long n, double p) = cases[i];
            AssertClose(Parse(expected[i]), Binomial.TwoSidedPValue(k, n, p), 1e-12, $"binomtest({k}, {n}, {p})");
        }
    }

    [Fact]
    public void Student_t_tails_equal_scipys_to_a_trillionth_relative_in_both_directions()
    {
        double[] xs = [-250, -40, -10, -3, -1.96, -0.5, -1e-6, 0, 1e-9, 0.1, 0.5, 1, 1.5, 1.96, 2.5, 3, 5, 8, 12, 30, 100, 1e4];
        double[] dfs = [1, 1.5, 2, 3, 4.5, 5, 10, 29, 30, 100, 499, 1234.5, 1e4, 1e6, 1e8];
        var cases = (from df in dfs from x in xs select (X: x, Df: df)).ToList();
        string input = string.Join('\n', cases.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.X:R} {c.Df:R}")));
        string[] expected = PythonReference.Run(Script, ["t"], input);
        Assert.Equal(cases.Count, expected.Length);
        for (int i = 0; i < cases.Count; i++)
        {
            (double x, double df) = cases[i];
            string[] sfCdf = expected[i].Split(' ');
            AssertClose(Parse(sfCdf[0]), StudentT.Survival(x, df), 1e-12, $"t.sf({x}, {df})");
            AssertClose(Parse(sfCdf[1]), StudentT.Cdf(x, df), 1e-12, $"t.cdf({x}, {df})");
        }
    }

    [Fact]
    public void McNemar_is_the_binomial_test_on_the_discordant_pairs_and_says_when_there_are_none()
    {
        McNemarTest none = McNemarTest.Exact(0, 0);
        Assert.True(none.Untestable);
        Assert.Equal(1, none.PValue);
        // 2 * P(X <= 2) for X ~ Binomial(12, 1/2) = 2 * (1 + 12 + 66) / 4096, exactly.
        Assert.Equal(2 * 79 / 4096.0, McNemarTest.Exact(10, 2).PValue, 14);
        Assert.Equal(McNemarTest.Exact(10, 2).PValue, McNemarTest.Exact(2, 10).PValue, 15);
        Assert.Throws<ArgumentOutOfRangeException>(() => McNemarTest.Exact(-1, 3));
    }

    [Fact]
    public void Binomial_probabilities_and_tails_add_up_and_bad_arguments_are_named()
    {
        // P(X = k) summed over every k is 1, and the tails split it at every k.
        double total = 0;
        for (long k = 0; k <= 300; k++)
        {
            total += Binomial.Probability(k, 300, 0.37);
            Assert.Equal(1, Binomial.Cdf(k, 300, 0.37) + Binomial.Survival(k, 300, 0.37), 12);
        }
        Assert.Equal(1, total, 12);
        Assert.Equal(Math.Pow(0.5, 10), Binomial.Probability(10, 10, 0.5), 15);
        Assert.Contains("between 0 and 1", Assert.Throws<ArgumentOutOfRangeException>(() => Binomial.Cdf(1, 10, 1.5)).Message, StringComparison.Ordinal);
        Assert.Contains("must not be negative", Assert.Throws<ArgumentOutOfRangeException>(() => Binomial.Cdf(1, -1, 0.5)).Message, StringComparison.Ordinal);
        Assert.Contains("k must be between 0 and n", Assert.Throws<ArgumentOutOfRangeException>(() => Binomial.TwoSidedPValue(11, 10, 0.5)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => StudentT.Survival(1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => StudentT.Survival(double.NaN, 3));
    }

    [Fact]
    public void Diebold_Mariano_reports_too_few_differences_and_constant_ones_without_NaN()
    {
        var few = DieboldMarianoTest.Compute(new LossDifferenceSums(3, 0.3, 0.05, new double[3], new double[3], new double[3], new long[3]));
        Assert.Equal(LongRunVariance.None, few.Variance);
        Assert.Contains("too few", few.Note, StringComparison.Ordinal);
        Assert.Equal((0.0, 1.0, 1.0), (few.HlnStatistic, few.PValueSecondBetter, few.PValueTwoSided));

        // Ten differences of 0.2 each: no variance, no test.
        var constant = DieboldMarianoTest.Compute(new LossDifferenceSums(10, 2.0, 0.4, [], [], [], []));
        Assert.Equal(LongRunVariance.None, constant.Variance);
        Assert.Contains("do not vary", constant.Note, StringComparison.Ordinal);
        Assert.Equal(0.2, constant.MeanDifference, 12);
        Assert.Equal(1, constant.PValueSecondBetter);

        Assert.Throws<ArgumentException>(() => new LossDifferenceSums(10, 1, 1, new double[2], new double[1], new double[2], new long[2]));
        Assert.Throws<ArgumentException>(() => new LossDifferenceSums(10, double.NaN, 1, [], [], [], []));
        Assert.Throws<ArgumentException>(() => new LossDifferenceSums(10, 1, 1, [0], [0], [0], [11]));
    }

    [Fact]
    public void Diebold_Mariano_falls_back_to_the_lag_zero_variance_when_the_lag_sum_is_not_positive_and_says_so()
    {
        // d alternates +1, -1 (mean 0.1 after one extra +1): a strongly negative lag-1 autocovariance makes
        // gamma_0 + 2 gamma_1 negative at horizon 2.
        double[] d = [.. Enumerable.Range(0, 21).Select(t => t % 2 == 0 ? 1.0 : -1.0)];
        double products = 0, leading = 0, trailing = 0;
        for (int t = 1; t < d.Length; t++)
        {
            products += d[t] * d[t - 1];
            leading += d[t];
            trailing += d[t - 1];
        }
        var test = DieboldMarianoTest.Compute(new LossDifferenceSums(d.Length, d.Sum(), d.Sum(v => v * v), [products], [leading], [trailing], [d.Length - 1]));
        Assert.Equal(LongRunVariance.LagZeroOnly, test.Variance);
        Assert.Contains("lag-0 variance", test.Note, StringComparison.Ordinal);
        double mean = d.Average();
        double gamma0 = d.Sum(v => (v - mean) * (v - mean)) / d.Length;
        Assert.Equal(gamma0, test.LongRunVarianceEstimate, 12);
        Assert.Equal(mean / Math.Sqrt(gamma0 / d.Length), test.Statistic, 12);
    }

    private static double Parse(string value) => double.Parse(value, CultureInfo.InvariantCulture);

    private static void AssertClose(double expected, double actual, double relative, string what) =>
        Assert.True(Math.Abs(expected - actual) <= relative * Math.Abs(expected) + 1e-300, $"{what}: SciPy {expected:R}, ours {actual:R}");
}
