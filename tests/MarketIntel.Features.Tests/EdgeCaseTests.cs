using MarketIntel.Features.Io;

namespace MarketIntel.Features.Tests;

/// <summary>Behaviour where TTR fails or has no answer, and the bounds the streaming form promises.</summary>
public sealed class EdgeCaseTests
{
    private static BarSeries Closes(params double[] closes) =>
        BarSeries.FromCloses(closes.Select((_, i) => (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(), closes);

    [Fact]
    public void Stochastics_on_a_flat_window_are_one_half_where_TTR_stops_with_an_error()
    {
        var bars = Closes(1.1, 1.1, 1.1, 1.1, 1.2, 1.3, 1.3, 1.3, 1.3);
        double[] k = FeatureDefinition.Parse("stochk_3_2").Compute(bars);
        double[] d = FeatureDefinition.Parse("stochd_3_2").Compute(bars);
        Assert.Equal([double.NaN, double.NaN, 0.5, 0.5, 1, 1, 1, 0.5, 0.5], k);
        Assert.Equal([double.NaN, double.NaN, double.NaN, 0.5, 0.75, 1, 1, 0.75, 0.5], d);
    }

    [Fact]
    public void Ratios_of_a_flat_window_are_empty_and_its_spread_is_zero()
    {
        var bars = Closes(1.1, 1.1, 1.1, 1.1, 1.1, 1.1);
        Assert.All(FeatureDefinition.Parse("zscore_3").Compute(bars), v => Assert.True(double.IsNaN(v)));
        Assert.All(FeatureDefinition.Parse("bbpctb_3_2").Compute(bars), v => Assert.True(double.IsNaN(v)));
        Assert.All(FeatureDefinition.Parse("cci_3").Compute(bars), v => Assert.True(double.IsNaN(v)));
        Assert.Equal([double.NaN, double.NaN, 0, 0, 0, 0], FeatureDefinition.Parse("bbwidth_3_2").Compute(bars));
        Assert.Equal([double.NaN, double.NaN, 1.1, 1.1, 1.1, 1.1], FeatureDefinition.Parse("sma_3").Compute(bars));
        Assert.Equal([double.NaN, double.NaN, double.NaN, 0, 0, 0], FeatureDefinition.Parse("logretsd_3").Compute(bars));
    }

    [Fact]
    public void Rolling_statistics_stay_exact_over_a_million_bars()
    {
        // A long random walk: the running sums are rebuilt every window, so the last values still match a
        // two-pass computation to ~1e-12 instead of drifting with the length of the stream.
        var rng = new Random(42);
        int count = 1_000_000;
        var closes = new double[count];
        double p = 100;
        for (int i = 0; i < count; i++)
        {
            p *= Math.Exp(rng.NextDouble() * 0.002 - 0.001);
            closes[i] = Math.Round(p, 4);
        }
        var bars = Closes(closes);
        double[] sma = FeatureDefinition.Parse("sma_50").Compute(bars);
        double[] z = FeatureDefinition.Parse("zscore_50").Compute(bars);
        double[] wma = FeatureDefinition.Parse("wma_50").Compute(bars);
        var window = closes.AsSpan(count - 50);
        double mean = 0, weighted = 0;
        for (int j = 0; j < 50; j++)
        {
            mean += window[j];
            weighted += (j + 1) * window[j];
        }
        mean /= 50;
        double ss = 0;
        foreach (double v in window)
        {
            ss += (v - mean) * (v - mean);
        }
        double zExact = (closes[^1] - mean) / Math.Sqrt(ss / 49);
        Assert.Equal(mean, sma[^1], 1e-12 * mean);
        Assert.Equal(weighted / 1275, wma[^1], 1e-12 * mean);
        Assert.Equal(zExact, z[^1], 1e-9);
    }

    [Fact]
    public void Streaming_updates_allocate_nothing()
    {
        var bars = BarCsv.Read(MarketIntel.Tests.RepoPaths.Data("ttrc-daily.csv"));
        var set = FeatureSet.Parse(
            "sma_20,ema_20,wma_10,rsi_14,atr_14,macd_12_26_9,macdsignal_12_26_9,bbpctb_20_2,bbwidth_20_2,roc_10," +
            "stochk_14_3,stochd_14_3,obv,logretsd_20,cci_20,adx_14,wpr_14,mfi_14,vwap_20,zscore_20,lag_2_rsi_14");
        var stream = set.CreateStream();
        var values = new double[set.Count];
        for (int i = 0; i < 100; i++)
        {
            stream.Update(bars[i], values); // warm up (JIT tiers, static init)
        }
        // Several rounds over the rest of the bars, keeping the smallest: a one-off allocation by the runtime itself
        // (tiered compilation on this thread) may land in one round, an allocation per update lands in all.
        long least = long.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            var rerun = set.CreateStream();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 100; i < bars.Count; i++)
            {
                rerun.Update(bars[i], values);
            }
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, least);
    }
}
