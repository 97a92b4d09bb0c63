using System.Globalization;
using System.Text.Json;
using MarketIntel.Tests;
using MarketIntel.Training.Drift;
using MarketIntel.Training.Statistics;

namespace MarketIntel.Training.Tests.Drift;

/// <summary>
/// The drift statistics against SciPy and NumPy on the same binned data (tests/fixtures/statistics/scipy_reference.py,
/// Debian's python3-scipy): PSI, Jensen-Shannon, Wasserstein-1, the two-sample chi-square test, the chi-square tail and
/// Benjamini-Hochberg.
/// </summary>
public sealed class DriftStatisticsTests
{
    private static readonly string Script = RepoPaths.Fixture("statistics", "scipy_reference.py");

    /// <summary>A reference over <paramref name="counts"/>.Length bins with uneven edges (bin i from i^1.3), extent around them.</summary>
    internal static FeatureReference Reference(long[] counts, long missing = 0, string name = "f")
    {
        float[] edges = [.. Enumerable.Range(1, counts.Length - 1).Select(i => (float)Math.Pow(i, 1.3))];
        return new FeatureReference(name, edges, counts, missing, -0.75f, counts.Length == 1 ? 2.5f : edges[^1] + 1.25f);
    }

    [Fact]
    public void Psi_Jensen_Shannon_Wasserstein_and_the_chi_square_test_equal_scipys_on_the_same_bins()
    {
        var random = new Random(21);
        var cases = new List<(FeatureReference Reference, int[] Live)>();
        foreach (int bins in new[] { 1, 2, 3, 5, 10, 19, 20, 40 })
        {
            foreach (int n in new[] { 0, 1, 4, 7, 30, 100, 500, 5000 })
            {
                long[] counts = [.. Enumerable.Range(0, bins).Select(_ => (long)random.Next(1, 2000))];
                if (bins > 3 && n % 2 == 0)
                {
                    counts[random.Next(bins)] = 0;   // a bin the reference never saw
                }
                var live = new int[bins];
                for (int v = 0; v < n; v++)
                {
                    // Shifted towards the upper bins, so that some cases drift far and some not at all.
                    live[Math.Min(bins - 1, (int)(bins * Math.Pow(random.NextDouble(), n % 3 == 0 ? 1 : 0.6)))]++;
                }
                cases.Add((Reference(counts), live));
            }
        }
        // A live value in a bin of reference share 0, and live equal to reference.
        cases.Add((Reference([500, 0, 500]), [40, 3, 57]));
        cases.Add((Reference([100, 200, 300, 400]), [10, 20, 30, 40]));

        string input = string.Join('\n', cases.Select(c => JsonSerializer.Serialize(new
        {
            reference = c.Reference.Counts,
            live = c.Live,
            centers = Enumerable.Range(0, c.Reference.Bins).Select(c.Reference.Center),
        })));
        string[] expected = PythonReference.Run(Script, ["drift"], input);
        Assert.Equal(cases.Count, expected.Length);
        for (int i = 0; i < cases.Count; i++)
        {
            (FeatureReference reference, int[] live) = cases[i];
            FeatureDrift drift = DriftStatistics.Compare(reference, live, missing: 3);
            string what = $"case {i}: reference [{string.Join(',', reference.Counts)}], live [{string.Join(',', live)}]";
            double[] scipy = [.. expected[i].Split(' ').Select(Parse)];
            AssertClose(scipy[0], drift.Psi, 1e-12, $"{what}: PSI");
            AssertClose(scipy[1], drift.JensenShannon, 1e-12, $"{what}: Jensen-Shannon");
            AssertClose(scipy[2], drift.Wasserstein, 1e-12, $"{what}: Wasserstein");
            AssertClose(scipy[3], drift.ChiSquare, 1e-12, $"{what}: chi-square");
            Assert.True(double.IsNaN(scipy[4]) ? drift.DegreesOfFreedom == 0 : scipy[4] == drift.DegreesOfFreedom, $"{what}: degrees of freedom {drift.DegreesOfFreedom}, SciPy {scipy[4]}");
            AssertClose(scipy[5], drift.PValue, 1e-11, $"{what}: p-value");
            Assert.Equal(live.Sum(), drift.Count);
            Assert.Equal(3, drift.Missing);
        }
    }

    [Fact]
    public void Chi_square_tails_equal_scipys_from_x_near_zero_to_p_values_of_1e_minus_300_for_1_to_300_degrees_of_freedom()
    {
        double[] xs = [1e-12, 1e-6, 1e-3, 0.05, 0.5, 1, 2, 3.5, 7, 12, 19, 25, 40, 60, 100, 150, 250, 400, 600, 900, 1200, 1350, 1600, 2000, 2400];
        var cases = new List<(double X, int Df)>();
        for (int df = 1; df <= 300; df += df < 40 ? 1 : 13)
        {
            cases.AddRange(xs.Select(x => (x, df)));
            cases.AddRange([(df - 0.5, df), (df + Math.Sqrt(2.0 * df), df)]);
        }
        cases.Add((2.5, 300));
        string input = string.Join('\n', cases.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.X:R} {c.Df}")));
        string[] expected = PythonReference.Run(Script, ["chi2sf"], input);
        Assert.Equal(cases.Count, expected.Length);
        int tiny = 0;
        for (int i = 0; i < cases.Count; i++)
        {
            double scipy = Parse(expected[i]);
            if (scipy < 1e-300)
            {
                // Past double's normal range SciPy itself loses digits; both must at least be that small.
                Assert.True(ChiSquare.Survival(cases[i].X, cases[i].Df) < 1e-299, $"chi2.sf({cases[i].X}, {cases[i].Df})");
                continue;
            }
            tiny += scipy < 1e-200 ? 1 : 0;
            AssertClose(scipy, ChiSquare.Survival(cases[i].X, cases[i].Df), 1e-11, $"chi2.sf({cases[i].X}, {cases[i].Df})");
        }
        Assert.True(tiny > 20, $"only {tiny} cases reached tails below 1e-200");

        // The batch form (the drift scan's), one call per degrees of freedom, against the same answers.
        foreach (IGrouping<int, int> byDf in Enumerable.Range(0, cases.Count).GroupBy(i => cases[i].Df))
        {
            double[] x = [.. byDf.Select(i => cases[i].X), double.NaN, 0, double.PositiveInfinity];
            var batch = new double[x.Length];
            ChiSquare.Survival(x, byDf.Key, batch);
            int at = 0;
            foreach (int i in byDf)
            {
                double scipy = Parse(expected[i]);
                if (scipy < 1e-300)
                {
                    Assert.True(batch[at++] < 1e-299, $"batch chi2.sf({cases[i].X}, {cases[i].Df})");
                    continue;
                }
                AssertClose(scipy, batch[at++], 1e-11, $"batch chi2.sf({cases[i].X}, {cases[i].Df})");
            }
            Assert.True(double.IsNaN(batch[at]) && batch[at + 1] == 1 && batch[at + 2] == 0, $"df {byDf.Key}: NaN, 0 and infinity give {batch[at]}, {batch[at + 1]}, {batch[at + 2]}");
        }
        Assert.Equal(1, ChiSquare.Survival(0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChiSquare.Survival(1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChiSquare.Survival(double.NaN, 3));
    }

    [Fact]
    public void Benjamini_Hochberg_rejects_what_the_step_up_rule_computed_by_hand_rejects_with_ties_and_NaN()
    {
        var random = new Random(7);
        var cases = new List<(double[] P, double Alpha)>();
        for (int c = 0; c < 300; c++)
        {
            int m = random.Next(1, 60);
            double[] p = [.. Enumerable.Range(0, m).Select(_ => random.Next(5) switch
            {
                0 => random.NextDouble() * 0.002,
                1 => double.NaN,
                2 => Math.Round(random.NextDouble() * 20) / 400,   // ties
                _ => random.NextDouble(),
            })];
            cases.Add((p, new[] { 0.01, 0.05, 0.1, 0.2 }[c % 4]));
        }
        cases.Add(([double.NaN, double.NaN], 0.05));
        string input = string.Join('\n', cases.Select(c => JsonSerializer.Serialize(new
        {
            p = c.P.Select(v => double.IsNaN(v) ? (double?)null : v),
            alpha = c.Alpha,
        })));
        string[] expected = PythonReference.Run(Script, ["bh"], input);
        Assert.Equal(cases.Count, expected.Length);
        int rejections = 0;
        for (int i = 0; i < cases.Count; i++)
        {
            var rejected = new bool[cases[i].P.Length];
            int count = BenjaminiHochberg.Reject(cases[i].P, cases[i].Alpha, rejected);
            Assert.Equal(expected[i], string.Join(' ', rejected.Select(r => r ? "1" : "0")));
            Assert.Equal(rejected.Count(r => r), count);
            rejections += count;
        }
        Assert.True(rejections > 100, $"only {rejections} rejections: the cases do not exercise the rule");
        Assert.Throws<ArgumentOutOfRangeException>(() => BenjaminiHochberg.Reject([0.1], 0, new bool[1]));
        Assert.Throws<ArgumentException>(() => BenjaminiHochberg.Reject([0.1], 0.05, new bool[2]));
    }

    [Fact]
    public void An_empty_window_or_a_reference_of_no_values_gives_NaN_never_a_made_up_number()
    {
        FeatureDrift empty = DriftStatistics.Compare(Reference([10, 20, 30]), [0, 0, 0], missing: 4);
        Assert.Equal((0, 4, 0), (empty.Count, empty.Missing, empty.DegreesOfFreedom));
        Assert.All([empty.Psi, empty.JensenShannon, empty.Wasserstein, empty.ChiSquare, empty.PValue], v => Assert.True(double.IsNaN(v)));
        Assert.Equal(1, empty.MissingRate);

        var noValues = new FeatureReference("f", [], [0], 50, float.NaN, float.NaN);
        FeatureDrift unreferenced = DriftStatistics.Compare(noValues, [7], 0);
        Assert.Equal(7, unreferenced.Count);
        Assert.True(double.IsNaN(unreferenced.Psi) && double.IsNaN(unreferenced.PValue));
        Assert.True(double.IsNaN(FeatureDrift.Empty(0).MissingRate));
    }

    [Fact]
    public void One_bin_has_no_distance_and_no_test_and_a_tiny_window_is_not_tested()
    {
        FeatureDrift one = DriftStatistics.Compare(Reference([1000]), [25], 0);
        Assert.Equal((0.0, 0.0, 0.0, 0), (one.Psi, one.JensenShannon, one.Wasserstein, one.DegreesOfFreedom));
        Assert.True(double.IsNaN(one.PValue));

        // 39 values over 20 bins: no two groups can each expect 20, so there is nothing to test.
        FeatureDrift tiny = DriftStatistics.Compare(Reference([.. Enumerable.Repeat(50L, 20)]), [39, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0);
        Assert.Equal(0, tiny.DegreesOfFreedom);
        Assert.True(double.IsNaN(tiny.PValue));
        Assert.True(tiny.Psi > 1, "the distances still see every value in the first bin");
        FeatureDrift forty = DriftStatistics.Compare(Reference([.. Enumerable.Repeat(50L, 20)]), [40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0);
        Assert.Equal(1, forty.DegreesOfFreedom);
    }

    [Fact]
    public void A_live_value_in_a_bin_the_reference_never_saw_raises_the_psi_through_its_floor_and_the_test_merges_that_bin()
    {
        FeatureReference reference = Reference([500, 0, 500]);
        FeatureDrift drift = DriftStatistics.Compare(reference, [45, 10, 45], 0);
        double a = 0.1;
        Assert.Equal((a - DriftStatistics.PsiFloor) * Math.Log(a / DriftStatistics.PsiFloor) + 2 * (0.45 - 0.5) * Math.Log(0.45 / 0.5), drift.Psi, 12);
        // The empty bin expects no live value, so the test merges it with the next: two groups, [55, 500] against [45, 500]
        // (each expects 50 live values).
        Assert.Equal(1, drift.DegreesOfFreedom);
        Assert.Equal(100.0 * 1000 * Math.Pow(0.55 - 0.5, 2) / 555 + 100.0 * 1000 * Math.Pow(0.45 - 0.5, 2) / 545, drift.ChiSquare, 12);
        Assert.Contains("2 live counts for 3 bins", Assert.Throws<ArgumentException>(() => DriftStatistics.Compare(reference, [1, 2], 0)).Message, StringComparison.Ordinal);
        Assert.Contains("below 0", Assert.Throws<ArgumentException>(() => DriftStatistics.Compare(reference, [1, -2, 3], 0)).Message, StringComparison.Ordinal);
    }

    private static double Parse(string value) => double.Parse(value, CultureInfo.InvariantCulture);

    internal static void AssertClose(double expected, double actual, double relative, string what) =>
        Assert.True(double.IsNaN(expected) ? double.IsNaN(actual) : Math.Abs(expected - actual) <= relative * Math.Abs(expected) + 1e-300,
            $"{what}: SciPy {expected:R}, ours {actual:R}");
}
