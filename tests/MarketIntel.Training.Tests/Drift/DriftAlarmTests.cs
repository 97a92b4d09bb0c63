using MarketIntel.Training.Drift;
using MarketIntel.Training.Statistics;
using Xunit.Abstractions;

namespace MarketIntel.Training.Tests.Drift;

/// <summary>
/// The claim: alarms from the chi-square p-values with Benjamini-Hochberg across features keep the false-alarm
/// rate near alpha at any window length, and still catch a 0.5-sd mean shift. Unchanged data: 40 independent standard
/// normal features, a reference of 20,000 rows in 20 quantile bins, and many independent windows of fresh rows (fixed seeds).
/// </summary>
public sealed class DriftAlarmTests(ITestOutputHelper output)
{
    private const int Features = 40;
    private const int ReferenceRows = 20_000;
    private const double Alpha = 0.05;

    [Theory]
    [InlineData(100, 3000)]    // 20 bins expect 5 each: the test merges them into 5 groups of 20
    [InlineData(400, 2000)]    // 20 each: every bin tested
    [InlineData(5000, 1000)]   // a quarter of the reference's size
    public void On_unchanged_data_the_share_of_windows_with_any_alarm_stays_within_4_standard_errors_of_alpha(int window, int windows)
    {
        FeatureReference[] references = References(seed: 1);
        var random = new Random(window);
        var counts = new int[Features][];
        int alarmed = 0, alarmedGoodnessOfFit = 0, psiOverTenth = 0;
        var p = new double[Features];
        var pGoodnessOfFit = new double[Features];
        var rejected = new bool[Features];
        for (int w = 0; w < windows; w++)
        {
            Count(references, counts, random, window, shift: 0);
            for (int f = 0; f < Features; f++)
            {
                FeatureDrift drift = DriftStatistics.Compare(references[f], counts[f], 0);
                p[f] = drift.PValue;
                psiOverTenth += drift.Psi > 0.1 ? 1 : 0;
                pGoodnessOfFit[f] = GoodnessOfFitPValue(references[f], counts[f]);
            }
            alarmed += BenjaminiHochberg.Reject(p, Alpha, rejected) > 0 ? 1 : 0;
            alarmedGoodnessOfFit += BenjaminiHochberg.Reject(pGoodnessOfFit, Alpha, rejected) > 0 ? 1 : 0;
        }
        double rate = (double)alarmed / windows, standardError = Math.Sqrt(Alpha * (1 - Alpha) / windows);
        double rateGoodnessOfFit = (double)alarmedGoodnessOfFit / windows;
        output.WriteLine($"W = {window}: {alarmed} of {windows} windows with any alarm = {rate:P2} (alpha {Alpha:P0}, " +
            $"bound {Alpha - 4 * standardError:P2}..{Alpha + 4 * standardError:P2}); goodness of fit against the reference shares: {rateGoodnessOfFit:P2}; " +
            $"features with PSI > 0.1: {(double)psiOverTenth / (windows * Features):P1}");
        Assert.InRange(rate, Alpha - 4 * standardError, Alpha + 4 * standardError);
        if (window == 100)
        {
            // The point about fixed PSI rules: sampling noise alone puts most unchanged features over 0.1.
            Assert.True(psiOverTenth > 0.5 * windows * Features, $"PSI > 0.1 in only {psiOverTenth} of {windows * Features} unchanged features");
        }
        if (window == 5000)
        {
            // Why the test is the two-sample one: shares taken as exact inflate the statistic by about 1 + W / N.
            Assert.True(rateGoodnessOfFit > 4 * Alpha, $"goodness of fit alarmed in only {rateGoodnessOfFit:P2} of windows");
        }
    }

    [Fact]
    public void A_window_of_50_with_two_groups_to_test_alarms_less_often_than_alpha_never_more()
    {
        // Two groups, one degree of freedom: the statistic is coarse and the test conservative, not anti-conservative.
        FeatureReference[] references = References(seed: 3);
        var random = new Random(50);
        var counts = new int[Features][];
        const int Windows = 3000;
        int alarmed = 0;
        var p = new double[Features];
        var rejected = new bool[Features];
        for (int w = 0; w < Windows; w++)
        {
            Count(references, counts, random, 50, shift: 0);
            for (int f = 0; f < Features; f++)
            {
                FeatureDrift drift = DriftStatistics.Compare(references[f], counts[f], 0);
                Assert.Equal(1, drift.DegreesOfFreedom);
                p[f] = drift.PValue;
            }
            alarmed += BenjaminiHochberg.Reject(p, Alpha, rejected) > 0 ? 1 : 0;
        }
        output.WriteLine($"W = 50: {alarmed} of {Windows} windows with any alarm = {(double)alarmed / Windows:P2}");
        Assert.True(alarmed <= (Alpha + 4 * Math.Sqrt(Alpha * (1 - Alpha) / Windows)) * Windows, $"{alarmed} of {Windows} windows alarmed");
    }

    [Fact]
    public void A_half_standard_deviation_mean_shift_in_one_feature_is_flagged_in_nearly_every_window_of_500_and_the_others_stay_quiet()
    {
        FeatureReference[] references = References(seed: 2);
        var random = new Random(500);
        var counts = new int[Features][];
        const int Windows = 300;
        int detected = 0, othersAlarmed = 0;
        var p = new double[Features];
        var rejected = new bool[Features];
        for (int w = 0; w < Windows; w++)
        {
            Count(references, counts, random, 500, shift: 0.5);
            for (int f = 0; f < Features; f++)
            {
                p[f] = DriftStatistics.Compare(references[f], counts[f], 0).PValue;
            }
            BenjaminiHochberg.Reject(p, Alpha, rejected);
            detected += rejected[0] ? 1 : 0;
            othersAlarmed += rejected.AsSpan(1).Contains(true) ? 1 : 0;
        }
        output.WriteLine($"W = 500, 0.5-sd shift in feature 0: flagged in {detected} of {Windows} windows; another feature flagged in {othersAlarmed}");
        Assert.True(detected >= 0.99 * Windows, $"the shift was flagged in only {detected} of {Windows} windows");
        Assert.True(othersAlarmed <= (Alpha + 4 * Math.Sqrt(Alpha * (1 - Alpha) / Windows)) * Windows, $"{othersAlarmed} of {Windows} windows flagged an unchanged feature");
    }

    private static FeatureReference[] References(int seed)
    {
        var random = new Random(seed);
        var column = new float[ReferenceRows];
        var references = new FeatureReference[Features];
        for (int f = 0; f < Features; f++)
        {
            for (int r = 0; r < ReferenceRows; r++)
            {
                column[r] = (float)DriftWindowTests.Normal(random);
            }
            references[f] = ProfileBuilder.Reference($"f{f}", column, 20);
        }
        return references;
    }

    /// <summary>Bins a window of fresh standard normal rows; feature 0 moved by <paramref name="shift"/> standard deviations.</summary>
    private static void Count(FeatureReference[] references, int[][] counts, Random random, int window, double shift)
    {
        for (int f = 0; f < references.Length; f++)
        {
            int[] c = counts[f] ??= new int[references[f].Bins];
            Array.Clear(c);
            double moved = f == 0 ? shift : 0;
            for (int r = 0; r < window; r += 2)
            {
                // Box-Muller's two independent normals per pair of uniforms.
                double radius = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())), angle = 2 * Math.PI * random.NextDouble();
                c[references[f].Bin((float)(radius * Math.Cos(angle) + moved))]++;
                if (r + 1 < window)
                {
                    c[references[f].Bin((float)(radius * Math.Sin(angle) + moved))]++;
                }
            }
        }
    }

    /// <summary>Pearson's goodness of fit against the reference shares taken as exact (SciPy's chisquare with f_exp = share * n).</summary>
    private static double GoodnessOfFitPValue(FeatureReference reference, int[] live)
    {
        double n = live.Sum(), statistic = 0;
        for (int i = 0; i < live.Length; i++)
        {
            double expected = n * reference.Counts[i] / reference.Present;
            statistic += (live[i] - expected) * (live[i] - expected) / expected;
        }
        return ChiSquare.Survival(statistic, live.Length - 1);
    }
}
